/*
 * files.c — the files poolbench reads and writes: many results files at
 * once, as compare, export, history and plot take them (arguments expanded
 * into paths, a folder standing for its *.json files, every file read with
 * pbr_read_any(), a merged file of several hosts standing for the runs it
 * holds), how any input file is read (pbr_read_text: whole, capped,
 * regular files or standard input only), and where a results file may be
 * written.
 *
 * READING
 *
 * An input is read whole into memory, so its size is capped (results files
 * at PBR_RESULTS_MAX_BYTES, suites at 16 MiB): /dev/zero or a file grown
 * without end gets a message, not every byte of memory. It is opened without
 * blocking and refused unless it is a regular file, so a FIFO with no writer
 * (`history FIFO`) does not hang the command, and a device is not read at
 * all; "-" reads standard input, whatever it is, under the same cap.
 *
 * WHERE A RESULTS FILE MAY BE WRITTEN
 *
 * `run --out` and `stress --out` name a path that poolbench, often run as
 * root in CI, will replace. pbr_out_check() decides before anything is
 * measured whether it may, so a wrong path costs a second, not a run, and
 * nothing but a results file is ever replaced:
 *   - "-" is standard output;
 *   - a new path is fine if its folder exists and a file can be created
 *     there (tried, not guessed from permission bits: root passes access()
 *     on /proc, where nothing can be created);
 *   - an existing regular file is replaced, keeping its permission bits;
 *   - a symbolic link is followed to the regular file it names, which is
 *     replaced (the link stays); a link to nothing is refused, since writing
 *     through it would create a file wherever it points;
 *   - anything else — a device such as /dev/null, a FIFO, a socket, a
 *     folder — is refused, as are the command's own inputs (the suite file)
 *     and the program's own code (the files of loaded objects).
 * The write itself (pbr_write_atomic) creates its temporary file with mode
 * 0666 less the umask — the kernel applies it, and a default ACL — or with
 * the permission bits of the file it replaces, and checks again just before
 * the rename that the target is still a regular file or absent; a path
 * swapped for a device node in between is refused, not replaced. (What
 * remains is the instant between that check and the rename; closing it for
 * good would need a directory handle held from the check on.)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "results-int.h"
#include "results.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void pbr_paths_free(char **paths)
{
    if (!paths)
        return;
    for (char **p = paths; *p; p++)
        free(*p);
    free(paths);
}

/* Appends a copy of s to the NULL-terminated list *v of *n entries. */
static int push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (!s)
        return -ENOMEM;
    if (*n + 2 > *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv) {
            free(s);
            return -ENOMEM;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
    return 0;
}

int pbr_paths_expand(const char *const *args, size_t nargs, char ***paths, size_t *npaths,
                     char *err, size_t errlen)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t a = 0; a < nargs && rc == 0; a++) {
        struct stat st;
        if (!strcmp(args[a], "-")) { /* standard input, read by pbr_read() */
            rc = push(&v, &n, &cap, strdup(args[a]));
            continue;
        }
        if (stat(args[a], &st) < 0) {
            rc = -errno;
            snprintf(err, errlen, "%s: %s", pbr_printable(args[a]), strerror(errno));
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            rc = push(&v, &n, &cap, strdup(args[a]));
            continue;
        }
        DIR *d = opendir(args[a]);
        if (!d) {
            rc = -errno;
            snprintf(err, errlen, "%s: cannot open folder: %s", pbr_printable(args[a]),
                     strerror(errno));
            break;
        }
        size_t first = n;
        struct dirent *e;
        while ((e = readdir(d)) && rc == 0) {
            size_t l = strlen(e->d_name);
            /* Skip hidden files: an interrupted writer's temporary is one. */
            if (e->d_name[0] == '.' || l < 6 || strcmp(e->d_name + l - 5, ".json"))
                continue;
            size_t dl = strlen(args[a]);
            bool slash = dl > 0 && args[a][dl - 1] == '/';
            char *p = malloc(dl + l + 2);
            if (p)
                sprintf(p, "%s%s%s", args[a], slash ? "" : "/", e->d_name);
            rc = push(&v, &n, &cap, p);
        }
        closedir(d);
        if (rc == 0 && n == first) {
            rc = -ENOENT;
            snprintf(err, errlen, "%s: no .json file in this folder", pbr_printable(args[a]));
        }
        if (rc == 0)
            qsort(v + first, n - first, sizeof *v, cmp_str);
    }
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc < 0) {
        pbr_paths_free(v);
        return rc;
    }
    if (!v) { /* no argument at all: an empty list */
        v = calloc(1, sizeof *v);
        if (!v) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    *paths = v;
    *npaths = n;
    return 0;
}

int pbr_read_all(char ***paths, size_t *n, json_t ***docs, char *err, size_t errlen)
{
    char **names = NULL;
    json_t **d = NULL;
    size_t nn = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < *n && rc == 0; i++) {
        const char *path = (*paths)[i];
        pbr_file_kind kind;
        json_t *doc = pbr_read_any(path, &kind, err, errlen);
        if (!doc) {
            rc = -EINVAL;
            break;
        }
        if (kind == PBR_FILE_AB || kind == PBR_FILE_NOISE) {
            /* The same words as pbr_read() gives a file of another kind. */
            pbr_validate(doc, path, err, errlen);
            json_decref(doc);
            rc = -EINVAL;
            break;
        }
        json_t *runs = kind == PBR_FILE_MATRIX ? json_object_get(doc, "runs") : NULL;
        size_t m = runs ? json_array_size(runs) : 1;
        for (size_t k = 0; k < m && rc == 0; k++) {
            if (nn + 2 > cap) {
                size_t nc = cap ? cap * 2 : 16;
                char **nv = realloc(names, nc * sizeof *nv);
                json_t **nd = nv ? realloc(d, nc * sizeof *nd) : NULL;
                if (nv)
                    names = nv;
                if (!nd) {
                    rc = -ENOMEM;
                    break;
                }
                d = nd;
                cap = nc;
            }
            json_t *r = runs ? json_incref(json_array_get(runs, k)) : json_incref(doc);
            char *name;
            if (runs) {
                size_t len = strlen(path) + strlen(pbr_doc_host(r)) + 3;
                name = malloc(len);
                if (name)
                    snprintf(name, len, "%s[%s]", path, pbr_doc_host(r));
            } else {
                name = strdup(path);
            }
            if (!name) {
                json_decref(r);
                rc = -ENOMEM;
                break;
            }
            names[nn] = name;
            d[nn++] = r;
            names[nn] = NULL;
        }
        json_decref(doc);
    }
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc < 0) {
        for (size_t i = 0; i < nn; i++)
            free(names[i]);
        free(names);
        pbr_docs_free(d, nn);
        return rc;
    }
    if (!names && !(names = calloc(1, sizeof *names))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pbr_paths_free(*paths);
    *paths = names;
    *n = nn;
    *docs = d ? d : calloc(1, sizeof *d);
    return 0;
}

void pbr_docs_free(json_t **docs, size_t n)
{
    if (!docs)
        return;
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    free(docs);
}

/* ------------------------------------------------------------------------
 * Reading an input whole
 * ------------------------------------------------------------------------ */

static const char *file_kind(mode_t m);

int pbr_read_text(const char *path, size_t cap, const char *what, char **text, size_t *len,
                  char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    bool from_stdin = !strcmp(path, "-");
    const char *name = from_stdin ? "standard input" : pbr_printable(path);
    int fd = STDIN_FILENO;
    if (!from_stdin) {
        /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            snprintf(err, errlen, "%s: cannot open: %s", name, strerror(e));
            return -e;
        }
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            int e = errno;
            if (S_ISDIR(st.st_mode))
                snprintf(err, errlen, "%s: is a folder, not a %s", name, what);
            else if (e)
                snprintf(err, errlen, "%s: cannot read: %s", name, strerror(e));
            else
                snprintf(err, errlen, "%s: is %s, not a %s (give a regular file, or - for "
                         "standard input)", name, file_kind(st.st_mode), what);
            close(fd);
            return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        }
        if ((uint64_t)st.st_size > cap) {
            snprintf(err, errlen, "%s: too large for a %s (%lld bytes; at most %zu MiB)", name,
                     what, (long long)st.st_size, cap >> 20);
            close(fd);
            return -EFBIG;
        }
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }

    size_t size = 0, room = 1 << 16;
    char *buf = malloc(room + 1);
    int rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        if (size == room) {
            if (room > cap) { /* a stream (or a file still growing) past the cap */
                snprintf(err, errlen, "%s: too large for a %s (more than %zu MiB)", name, what,
                         cap >> 20);
                rc = -EFBIG;
                break;
            }
            size_t grown = room * 2 > cap + 1 ? cap + 1 : room * 2;
            char *nb = realloc(buf, grown + 1);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            room = grown;
        }
        ssize_t r = read(fd, buf + size, room - size);
        if (r > 0)
            size += (size_t)r;
        else if (r == 0)
            break;
        else if (errno != EINTR) {
            rc = -errno;
            snprintf(err, errlen, "%s: cannot read: %s", name, strerror(errno));
        }
    }
    if (!from_stdin)
        close(fd);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory reading it", name);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[size] = '\0';
    *text = buf;
    *len = size;
    return 0;
}

/* ------------------------------------------------------------------------
 * Where a results file may be written
 * ------------------------------------------------------------------------ */

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a folder";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

/* The folder of path into dir ("." for a bare name). 0 or -ENAMETOOLONG. */
static int folder_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(dir, len, ".") < (int)len ? 0 : -ENAMETOOLONG;
    if (slash == path)
        return snprintf(dir, len, "/") < (int)len ? 0 : -ENAMETOOLONG;
    if ((size_t)(slash - path) >= len)
        return -ENAMETOOLONG;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return 0;
}

int pbr__temp_open(const char *target, char *tmp, size_t len)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    if (!*base)
        return -EISDIR;
    int rc = folder_of(target, dir, sizeof dir);
    if (rc)
        return rc;
    /* Replacing a file keeps its permission bits; a new one gets 0666 less
     * the umask (and a default ACL), applied by the kernel at creation. */
    struct stat st;
    bool keep = stat(target, &st) == 0 && S_ISREG(st.st_mode);
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t r;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            r = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
                (uint64_t)attempt * 0x9e3779b97f4a7c15ull;
        }
        char suffix[7];
        for (int i = 0; i < 6; i++, r /= sizeof set - 1)
            suffix[i] = set[r % (sizeof set - 1)];
        suffix[6] = '\0';
        if ((size_t)snprintf(tmp, len, "%s/.%s.%s", dir, base, suffix) >= len)
            return -ENAMETOOLONG;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if (keep)
                (void)fchmod(fd, st.st_mode & 0777);
            return fd;
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

int pbr__out_replaceable(const char *target, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(target, &st) != 0)
        return 0; /* absent (or unreachable: the rename will say) */
    if (S_ISREG(st.st_mode))
        return 0;
    snprintf(err, errlen, "%s: is now %s, not a regular file; not replaced", target,
             S_ISLNK(st.st_mode) ? "a symbolic link" : file_kind(st.st_mode));
    return -EEXIST;
}

/* dl_iterate_phdr: is the file of a loaded object the one at (dev, ino)? */
typedef struct loaded_match {
    dev_t dev;
    ino_t ino;
    char name[PATH_MAX];
} loaded_match;

static int match_loaded(struct dl_phdr_info *info, size_t size, void *ud)
{
    (void)size;
    loaded_match *m = ud;
    const char *name = info->dlpi_name;
    char self[PATH_MAX];
    if (!name || !*name) { /* the program itself */
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 0;
        self[n] = '\0';
        name = self;
    }
    struct stat st;
    if (stat(name, &st) == 0 && st.st_dev == m->dev && st.st_ino == m->ino) {
        snprintf(m->name, sizeof m->name, "%s", name);
        return 1;
    }
    return 0;
}

int pbr_out_check(const char *what, const char *given, const pbr_input *inputs, size_t ninputs,
                  char *path, size_t pathlen, char *err, size_t errlen)
{
    const char *name = pbr_printable(given); /* for messages */
    if (!strcmp(given, "-")) {
        if (fcntl(STDOUT_FILENO, F_GETFL) < 0) {
            snprintf(err, errlen, "%s -: standard output is closed", what);
            return -EBADF;
        }
        snprintf(path, pathlen, "-");
        return 0;
    }
    if (!*given) {
        snprintf(err, errlen, "%s: empty file name", what);
        return -EINVAL;
    }
    if (strlen(given) >= pathlen || strlen(given) >= PATH_MAX) {
        snprintf(err, errlen, "%s %.200s...: path too long", what, name);
        return -ENAMETOOLONG;
    }
    const char *target = given;
    char resolved[PATH_MAX];
    struct stat st;
    bool exists = false;
    if (lstat(given, &st) == 0) {
        exists = true;
        if (S_ISLNK(st.st_mode)) {
            /* Followed to the regular file it names, which is what gets
             * replaced; a link to nothing is refused. */
            if (!realpath(given, resolved) || stat(resolved, &st) != 0) {
                snprintf(err, errlen,
                         "%s %s: is a symbolic link to a file that does not exist (or cannot be "
                         "reached); give the file itself",
                         what, name);
                return -ENOENT;
            }
            if (strlen(resolved) >= pathlen) {
                snprintf(err, errlen, "%s %.200s: the file it links to has too long a path", what,
                         name);
                return -ENAMETOOLONG;
            }
            target = resolved;
        }
        if (!S_ISREG(st.st_mode)) {
            snprintf(err, errlen,
                     "%s %s%s%s: is %s, not a results file (give a regular file or a new path; "
                     "- is standard output)",
                     what, name, target != given ? " -> " : "",
                     target != given ? pbr_printable(target) : "",
                     file_kind(st.st_mode));
            return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        }
    } else if (errno != ENOENT) {
        int e = errno;
        snprintf(err, errlen, "%s %s: %s", what, name, strerror(e));
        return -e;
    }

    char dir[PATH_MAX];
    if (folder_of(target, dir, sizeof dir) < 0) {
        snprintf(err, errlen, "%s %.200s: path too long", what, name);
        return -ENAMETOOLONG;
    }
    struct stat dst;
    if (!exists && (stat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode))) {
        snprintf(err, errlen, "%s %s: folder '%s' does not exist", what, name,
                 pbr_printable(dir));
        return -ENOENT;
    }

    /* Not one of the command's inputs, not the program's own code. */
    if (exists) {
        for (size_t i = 0; i < ninputs; i++) {
            struct stat ist;
            if (inputs[i].path && strcmp(inputs[i].path, "-") && stat(inputs[i].path, &ist) == 0 &&
                ist.st_dev == st.st_dev &&
                ist.st_ino == st.st_ino) {
                snprintf(err, errlen, "%s %s: is %s (%s); the results would overwrite it", what,
                         name, inputs[i].what, pbr_printable(inputs[i].path));
                return -EEXIST;
            }
        }
        loaded_match m = {.dev = st.st_dev, .ino = st.st_ino};
        if (dl_iterate_phdr(match_loaded, &m)) {
            snprintf(err, errlen, "%s %s: is a program or library poolbench is running from (%s)",
                     what, name, pbr_printable(m.name));
            return -EEXIST;
        }
    }

    /* Can a file be created there? Tried, not guessed: root passes every
     * permission check, yet nothing can be created in /proc. */
    char tmp[PATH_MAX];
    int fd = pbr__temp_open(target, tmp, sizeof tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s %s: cannot create a file in folder '%s': %s", what, name,
                 pbr_printable(dir), strerror(-fd));
        return fd;
    }
    close(fd);
    unlink(tmp);
    snprintf(path, pathlen, "%s", target);
    return 0;
}
