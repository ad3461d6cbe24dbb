/*
 * plugin_nohelp.c — the thread backend without help-while-waiting, as a
 * plugin (`poolbench run --load`): the same pool, whose workers block when
 * a task waits on a subtask, so nested tasks deadlock it. The tests use it
 * to see the nested scenario report `deadlock` and the run go on.
 */
#include <stdio.h>
#include <stdlib.h>

#include <pb/backend.h>

static pb_backend nohelp;

__attribute__((constructor)) static void register_nohelp(void)
{
    const pb_backend *thread = pb_backend_find("thread");
    if (!thread) {
        fprintf(stderr, "plugin_nohelp: no thread backend\n");
        abort();
    }
    nohelp = *thread;
    nohelp.name = "nohelp";
    nohelp.summary = "test plugin: the thread backend without help-while-waiting";
    nohelp.help_nested = NULL;
    if (pb_backend_register(&nohelp) != 0) {
        fprintf(stderr, "plugin_nohelp: cannot register\n");
        abort();
    }
}
