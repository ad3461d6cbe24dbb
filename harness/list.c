/*
 * list.c — `poolbench list`: the backends (with --load, those of plugins
 * too), the scenarios with their parameters and defaults, the floor
 * measurements, and the suites found in the suite folders.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb/backend.h>

#include "cli.h"
#include "commands.h"
#include "scenario.h"
#include "suite.h"

static const char *kind_text(pb_param_kind k)
{
    switch (k) {
    case PB_PARAM_COUNT:
        return "count";
    case PB_PARAM_NS:
        return "duration";
    case PB_PARAM_BYTES:
        return "size";
    case PB_PARAM_WORD:
        return "word";
    }
    return "";
}

static void list_scenario(const pb_scenario *s)
{
    printf("  %-15s %s\n", s->name, s->summary);
    if (s->needs)
        printf("  %-15s needs: %s\n", "", s->needs);
    for (const pb_param *p = s->params; p && p->name; p++) {
        char def[128];
        snprintf(def, sizeof def, "%s", p->defaults);
        printf("  %-15s   %-12s = %-28s %s (%s", "", p->name, def, p->description, kind_text(p->kind));
        if (p->kind == PB_PARAM_WORD) {
            printf(":");
            for (const char *const *c = p->choices; c && *c; c++)
                printf(" %s", *c);
        }
        printf(")\n");
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_suites(void)
{
    const char *dirs[3];
    pbh_suite_dirs(dirs);
    printf("\nsuites (poolbench run --suite NAME):\n");
    bool any = false;
    for (int d = 0; d < 3; d++) {
        if (!dirs[d])
            continue;
        DIR *dir = opendir(dirs[d]);
        if (!dir)
            continue;
        char *names[256];
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(dir)) && n < 256) {
            size_t len = strlen(e->d_name);
            if (len > 5 && !strcmp(e->d_name + len - 5, ".json"))
                names[n++] = strndup(e->d_name, len - 5);
        }
        closedir(dir);
        qsort(names, n, sizeof names[0], by_name);
        for (size_t i = 0; i < n; i++) {
            if (!names[i])
                continue;
            char path[4096], err[512];
            snprintf(path, sizeof path, "%s/%s.json", dirs[d], names[i]);
            pbh_suite *s;
            if (pbh_suite_load(path, &s, err, sizeof err) == 0) {
                printf("  %-15s %s\n", names[i], s->description);
                pbh_suite_free(s);
            } else {
                printf("  %-15s (unusable: %s)\n", names[i], err);
            }
            free(names[i]);
            any = true;
        }
        /* The first folder with suites shadows the later ones by name;
         * listing one is what `run --suite NAME` will find. */
        if (any) {
            printf("  %-15s (in %s)\n", "", dirs[d]);
            break;
        }
    }
    if (!any)
        printf("  (none found)\n");
}

typedef struct list_cli {
    int plugins;
} list_cli;

static const pbr_option list_options[] = {
    PBH_LOAD_OPTION(list_cli),
    {0},
};

static int run_list(const pbr_args *a);

const pbr_command pbh_list_command = {
    .name = "list",
    .summary = "list backends, scenarios with their parameters, and suites",
    .synopsis = "[--load PLUGIN.so]...",
    .about = "Lists the pool backends, the scenarios with their parameters and defaults,\n"
             "the floor measurements and the suites.",
    .options = list_options,
    .opts_size = sizeof(list_cli),
    .run = run_list,
};

/* Each backend: its summary, its own settings, and what it cannot do (its
 * table's words, as pb_pool_create quotes them when it refuses). */
static void list_backends(void)
{
    printf("backends:\n");
    for (const char *const *b = pb_backend_names(); b && *b; b++) {
        /* A module backend that cannot be loaded is listed with the reason;
         * one that cannot be used in this process (mpi outside mpiexec) with
         * what it is, what it cannot do, and why not here. */
        const pb_backend *t = pb_backend_find(*b);
        if (!t) {
            printf("  %-15s unavailable: %s\n", *b, pb_pool_last_error());
            continue;
        }
        printf("  %-15s %s\n", *b, t->summary ? t->summary : "");
        if (!pb_backend_summary(*b))
            printf("  %-15s   not here: %s\n", "", pb_pool_last_error());
        for (const pb_backend_option *o = t ? t->options : NULL; o && o->key; o++)
            printf("  %-15s   :%s=%s (default %s) %s\n", "", o->key, o->values,
                   o->default_text ? o->default_text : "none", o->description);
        for (const pb_unsupported *u = t ? t->unsupported : NULL; u && u->option; u++)
            printf("  %-15s   no %s: %s\n", "", u->option, u->reason);
        if (t && t->native)
            printf("  %-15s   native loop: %s\n", "", t->native_summary ? t->native_summary : "yes");
    }

}

static int run_list(const pbr_args *a)
{
    (void)a;
    list_backends();
    size_t n;
    const pb_scenario *const *all = pb_scenarios(&n);
    printf("\nscenarios (parameter = default; a list is a sweep, one case per value):\n");
    for (size_t i = 0; i < n; i++)
        if (!(all[i]->flags & PB_SC_FLOOR))
            list_scenario(all[i]);
    printf("\nfloor (this machine's own floor, measured in every run as backend \"floor\"):\n");
    for (size_t i = 0; i < n; i++)
        if (all[i]->flags & PB_SC_FLOOR)
            list_scenario(all[i]);
    list_suites();
    return 0;
}
