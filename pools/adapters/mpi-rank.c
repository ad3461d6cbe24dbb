/*
 * adapters/mpi-rank.c — the mpi backend in every rank: setting MPI up, the
 * worker ranks' loop, and ending the job.
 *
 * DESIGN
 *
 * Who runs what. `mpiexec -n W+1 PROGRAM ARGS` starts W+1 copies of one
 * program. Its main() calls pb_worker_main_if_requested() first thing, which
 * (pool.c: the launcher's variable OMPI_COMM_WORLD_SIZE is set, and this is
 * the launched process rather than a child of it) loads this module and
 * calls pb__mpi_worker_main(). That initialises MPI in every rank
 * (MPI_THREAD_MULTIPLE; a program that initialised MPI itself keeps its own)
 * and duplicates MPI_COMM_WORLD for our traffic. Then:
 *   - a worker rank (1..W) says HELLO to rank 0 and serves: it runs the
 *     tasks and initializers rank 0 sends, one at a time, replying with
 *     results, until rank 0 says QUIT; it then finalizes MPI and exits. It
 *     never returns into the program's main();
 *   - rank 0 collects every HELLO (so every connection is made before any
 *     pool exists, and no fd or thread of MPI appears later), learns the
 *     clock offset of ranks on other hosts, reads the MCA settings in
 *     effect, arranges for the workers to be told QUIT when it finalizes,
 *     and returns 0: it runs the program, and its pools' workers are the
 *     ranks (mpi.c).
 * Every rank must call MPI_Init before any of them may finish, which is why
 * rank 0 initialises at start-up even if the program never makes an mpi
 * pool (`poolbench list` under mpiexec): its exit then releases the workers.
 *
 * Ending. Rank 0 tells the workers QUIT from a delete callback of an
 * attribute on MPI_COMM_SELF, which MPI_Finalize runs first thing (the MPI
 * standard's hook for libraries): so the workers are released whether we
 * finalize at exit (when we initialised MPI) or the program calls
 * MPI_Finalize itself. A pool still alive then is abandoned: the engine
 * thread is stopped first. A rank 0 that dies or _exit()s without finalizing
 * makes mpiexec end the whole job, workers included: nothing is orphaned.
 *
 * Signals. Open MPI installs handlers for SIGSEGV, SIGBUS, SIGFPE and SIGABRT
 * at MPI_Init unless its MCA setting opal_signal is empty; the library
 * promises the host program no signal handlers, so we set it empty (in the
 * environment, before MPI_Init, unless the user set it).
 *
 * No spawn mode. A program not started by mpiexec could make its workers
 * with MPI_Comm_spawn after a singleton MPI_Init, and with this Open MPI
 * (4.1.4) that works (a trial: 30 spawns of 2 ranks in a row, about 0.3 s
 * each). It is not offered: the singleton's MPI_Init starts an orted daemon
 * as a child of the program and MPI threads that stay until it exits, and
 * MPI cannot be initialised again once finalized, so the first mpi pool
 * would change the process for every backend measured after it and leave
 * a child and threads behind its destroy; and a fresh pool per repetition
 * would spawn and disconnect ranks hundreds of times a run. Outside
 * mpiexec the backend is therefore unavailable, saying which command to
 * run (pb__mpi_unavailable).
 *
 * How a worker waits. MPI's receive polls: a rank waiting in MPI_Mprobe
 * burns a PU (Open MPI yields it between polls when oversubscribed, but
 * still runs). A worker rank therefore waits in MPI's own receive only while
 * a pool with idle=spin (the default) is attached to it; otherwise — no pool,
 * or idle=sleep — it polls with MPI_Improbe for a short while after its last
 * message and then naps between polls, up to NAP_MAX, so that ranks not in
 * use cost almost nothing while the program measures other pools.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, program_invocation_short_name */
#endif
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "mpi-int.h"
#include "wire-int.h"

#define SPIN_NS (100 * 1000LL)     /* idle=sleep: poll this long after a message */
#define NAP_MIN_NS (10 * 1000LL)
#define NAP_MAX_NS (1000 * 1000LL)
#define CLOCK_SAMPLES 16
#define SMALL_SEND 4096            /* bodies up to this are copied, not described */

pb__mpi_world pb__mpi = {.state = PB__MPI_NOT_LAUNCHED, .comm = MPI_COMM_NULL};
pthread_mutex_t pb__mpi_lifecycle = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

/* Waits for the next message from rank 0 with tag (MPI_ANY_TAG: any), in
 * MPI's own receive (spin) or polling with naps. */
static void next_message(int tag, bool spin, MPI_Message *msg, MPI_Status *st)
{
    if (spin) {
        MPI_Mprobe(0, tag, pb__mpi.comm, msg, st);
        return;
    }
    int64_t start = pb_now_ns(), sleep_ns = NAP_MIN_NS;
    for (;;) {
        int flag = 0;
        MPI_Improbe(0, tag, pb__mpi.comm, &flag, msg, st);
        if (flag)
            return;
        if (pb_now_ns() - start < SPIN_NS)
            continue;
        pb__mpi_nap(sleep_ns);
        sleep_ns = sleep_ns * 2 > NAP_MAX_NS ? NAP_MAX_NS : sleep_ns * 2;
    }
}

/* "0-3,5" for set into buf. */
static void cpu_list(const cpu_set_t *set, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int last = c;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set))
            last++;
        int w = last > c ? snprintf(buf + used, size - used, "%s%d-%d", used ? "," : "", c, last)
                         : snprintf(buf + used, size - used, "%s%d", used ? "," : "", c);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
        c = last;
    }
}

/* What this rank tells rank 0 about itself. */
static void describe_self(pb__mpi_peer *me)
{
    memset(me, 0, sizeof *me);
    me->pid = (int)getpid();
    if (gethostname(me->host, sizeof me->host) != 0)
        snprintf(me->host, sizeof me->host, "unknown");
    me->host[sizeof me->host - 1] = 0;
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(me->boot, sizeof me->boot, f))
            me->boot[0] = 0;
        fclose(f);
        me->boot[strcspn(me->boot, "\n")] = 0;
    }
    struct utsname u;
    const uint16_t one = 1;
    snprintf(me->arch, sizeof me->arch, "%s-%s-%zu", uname(&u) == 0 ? u.machine : "unknown",
             *(const uint8_t *)&one ? "le" : "be", sizeof(void *) * 8);
    long pus = sysconf(_SC_NPROCESSORS_ONLN);
    me->pus = pus > 0 ? (int)pus : 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < me->pus)
        cpu_list(&set, me->cpus, sizeof me->cpus);
}

/* Parses "host=vm boot=... pus=2 cpus=0-1 arch=x86_64-le-64" (values have no
 * spaces; cpus may be empty) into p. */
static void parse_hello(const char *text, size_t len, pb__mpi_peer *p)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), text);
    char *save = NULL;
    for (char *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq++ = 0;
        if (!strcmp(kv, "host"))
            snprintf(p->host, sizeof p->host, "%s", eq);
        else if (!strcmp(kv, "boot"))
            snprintf(p->boot, sizeof p->boot, "%s", eq);
        else if (!strcmp(kv, "arch"))
            snprintf(p->arch, sizeof p->arch, "%s", eq);
        else if (!strcmp(kv, "cpus"))
            snprintf(p->cpus, sizeof p->cpus, "%s", eq);
        else if (!strcmp(kv, "pus"))
            p->pus = atoi(eq);
    }
}

/* JSON string body of s (quotes and control characters escaped) into buf. */
static void json_text(const char *s, char *buf, size_t size)
{
    size_t k = 0;
    for (; *s && k + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[k++] = '\\';
            buf[k++] = (char)c;
        } else if (c < 0x20) {
            k += (size_t)snprintf(buf + k, size - k, "\\u%04x", c);
        } else {
            buf[k++] = (char)c;
        }
    }
    buf[k] = 0;
}

/* ------------------------------------------------------------------------
 * Worker ranks
 * ------------------------------------------------------------------------ */

static _Noreturn void protocol_error(const char *what)
{
    fprintf(stderr, "poolbench mpi worker rank %d: %s\n", pb__mpi.rank, what);
    MPI_Abort(MPI_COMM_WORLD, 70);
    _exit(70);
}

/* Sends a RESULT or INIT_DONE frame with body to rank 0. */
static void send_result(int type, uint64_t id, const pb_outcome *out, const void *body,
                        size_t len, unsigned char *scratch, size_t scratch_size)
{
    unsigned char head[PB__WIRE_RESULT_HEAD];
    char too_big[160];
    int code = out->code, task_code = out->code ? out->task_code : 0;
    if (len > (size_t)INT_MAX - PB__WIRE_RESULT_HEAD) {
        snprintf(too_big, sizeof too_big,
                 "a %s of %zu bytes is more than one MPI message carries (2 GiB)",
                 code ? "message" : "result", len);
        code = PB_ETASK;
        task_code = PB_EINVAL;
        body = too_big;
        len = strlen(too_big);
    }
    size_t n = pb__wire_put_result(head, type, id, out->started, out->ended, code, task_code, len);
    if (n + len <= scratch_size) {
        memcpy(scratch, head, n);
        if (len)
            memcpy(scratch + n, body, len);
        MPI_Send(scratch, (int)(n + len), MPI_BYTE, 0, PB__MPI_TAG_FRAME, pb__mpi.comm);
        return;
    }
    /* Head and body where they are, as one message. */
    int lens[2] = {(int)n, (int)len};
    MPI_Aint at[2];
    MPI_Get_address(head, &at[0]);
    MPI_Get_address(body, &at[1]);
    MPI_Datatype t;
    MPI_Type_create_hindexed(2, lens, at, MPI_BYTE, &t);
    MPI_Type_commit(&t);
    MPI_Send(MPI_BOTTOM, 1, t, 0, PB__MPI_TAG_FRAME, pb__mpi.comm);
    MPI_Type_free(&t);
}

/* Runs the TASK or INIT frame fr and replies. */
static void run_frame(const pb__frame *fr, unsigned char *scratch, size_t scratch_size)
{
    static char name[PB__WIRE_NAME_MAX + 1];
    static const pb_task *task;
    if (!task || fr->name_len != strlen(name) || memcmp(name, fr->name, fr->name_len) != 0) {
        memcpy(name, fr->name, fr->name_len);
        name[fr->name_len] = 0;
        task = pb_task_find(name);
    }
    int type = fr->type == PB__WIRE_INIT ? PB__WIRE_INIT_DONE : PB__WIRE_RESULT;
    pb_outcome out;
    if (!task) {
        /* Only when the ranks run different programs (mpiexec's MPMD form). */
        char msg[PB__WIRE_NAME_MAX + 96];
        memset(&out, 0, sizeof out);
        out.code = PB_ETASK;
        out.task_code = PB_ENOENT;
        out.started = out.ended = pb_now_ns();
        snprintf(msg, sizeof msg, "task \"%s\" is not registered in the program of rank %d",
                 name, pb__mpi.rank);
        send_result(type, fr->id, &out, msg, strlen(msg), scratch, scratch_size);
        return;
    }
    pb_task_run(task, fr->body, fr->body_len, &out);
    const void *body = out.code ? (const void *)out.message : out.data;
    size_t len = out.code ? (out.message ? strlen(out.message) : 0) : out.len;
    send_result(type, fr->id, &out, body, len, scratch, scratch_size);
    pb_outcome_clear(&out);
}

/* The floors' far end (mpi-floor.c has the near one). */
static void floor_peer(const pb__mpi_ctrl *c, bool *spin)
{
    MPI_Comm comm = pb__mpi.comm;
    MPI_Status st;
    switch (c->cmd) {
    case PB__MPI_IDLE:
        *spin = c->a != 0;
        return;
    case PB__MPI_PINGPONG:
    case PB__MPI_STREAM: {
        size_t bytes = c->b ? (size_t)c->b : 1;
        unsigned char *buf = malloc(bytes);
        if (!buf)
            protocol_error("out of memory for a floor's messages");
        for (uint64_t i = 0; i < c->a; i++) {
            MPI_Recv(buf, (int)bytes, MPI_BYTE, 0, PB__MPI_TAG_FLOOR, comm, &st);
            if (c->cmd == PB__MPI_PINGPONG)
                MPI_Send(buf, (int)bytes, MPI_BYTE, 0, PB__MPI_TAG_FLOOR, comm);
        }
        if (c->cmd == PB__MPI_STREAM)
            MPI_Send(buf, 1, MPI_BYTE, 0, PB__MPI_TAG_FLOOR, comm);
        free(buf);
        return;
    }
    case PB__MPI_IDLE_COST: {
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        int64_t w0 = pb_now_ns();
        MPI_Message msg;
        next_message(PB__MPI_TAG_FLOOR, c->a == 0, &msg, &st);
        int64_t w1 = pb_now_ns();
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        unsigned char byte;
        MPI_Mrecv(&byte, 1, MPI_BYTE, &msg, &st);
        int64_t reply[2] = {(int64_t)(c1.tv_sec - c0.tv_sec) * 1000000000 + (c1.tv_nsec - c0.tv_nsec),
                            w1 - w0};
        MPI_Send(reply, 2, MPI_INT64_T, 0, PB__MPI_TAG_FLOOR, comm);
        return;
    }
    case PB__MPI_CLOCK:
        for (uint64_t i = 0; i < c->a; i++) {
            unsigned char byte;
            MPI_Recv(&byte, 1, MPI_BYTE, 0, PB__MPI_TAG_FLOOR, comm, &st);
            int64_t now = pb_now_ns();
            MPI_Send(&now, 1, MPI_INT64_T, 0, PB__MPI_TAG_FLOOR, comm);
        }
        return;
    default:
        protocol_error("unknown control message from rank 0");
    }
}

/* Serves rank 0 until QUIT. */
static void serve(void)
{
    unsigned char scratch[SMALL_SEND + PB__WIRE_RESULT_HEAD];
    unsigned char *rx = NULL;
    size_t cap = 0;
    bool spin = false; /* no pool attached yet */
    for (;;) {
        MPI_Message msg;
        MPI_Status st;
        next_message(MPI_ANY_TAG, spin, &msg, &st);
        int n = 0;
        MPI_Get_count(&st, MPI_BYTE, &n);
        if ((size_t)n > cap || !rx) {
            size_t want = (size_t)n > 4096 ? (size_t)n : 4096;
            unsigned char *grown = realloc(rx, want);
            if (!grown)
                protocol_error("out of memory for a message from rank 0");
            rx = grown;
            cap = want;
        }
        MPI_Mrecv(rx, n, MPI_BYTE, &msg, &st);
        if (st.MPI_TAG == PB__MPI_TAG_CTRL) {
            pb__mpi_ctrl c;
            if ((size_t)n != sizeof c)
                protocol_error("a control message of the wrong size");
            memcpy(&c, rx, sizeof c);
            if (c.magic != PB__MPI_CTRL_MAGIC)
                protocol_error("a control message with bad magic");
            if (c.cmd == PB__MPI_QUIT)
                break;
            floor_peer(&c, &spin);
            continue;
        }
        if (st.MPI_TAG != PB__MPI_TAG_FRAME)
            protocol_error("a message with an unknown tag");
        pb__frame fr;
        uint64_t need;
        char why[200];
        int r = pb__wire_decode(rx, (size_t)n, PB__WIRE_MAX_PAYLOAD, &fr, &need, why, sizeof why);
        if (r != PB__WIRE_FRAME || need != (uint64_t)n) {
            char what[300];
            snprintf(what, sizeof what, "malformed frame from rank 0: %s",
                     r == PB__WIRE_BAD ? why : "its length does not match the message");
            protocol_error(what);
        }
        if (fr.type != PB__WIRE_TASK && fr.type != PB__WIRE_INIT)
            protocol_error("unexpected frame from rank 0 (not TASK or INIT)");
        run_frame(&fr, scratch, sizeof scratch);
    }
    free(rx);
}

static _Noreturn void worker_rank(void)
{
    pb__mpi_peer me;
    describe_self(&me);
    char text[400];
    snprintf(text, sizeof text, "host=%s boot=%s pus=%d cpus=%s arch=%s", me.host, me.boot,
             me.pus, me.cpus, me.arch);
    unsigned char hello[PB__WIRE_HELLO_HEAD + 400];
    size_t n = pb__wire_put_hello(hello, sizeof hello, (int32_t)me.pid, 0, text);
    MPI_Send(hello, (int)n, MPI_BYTE, 0, PB__MPI_TAG_HELLO, pb__mpi.comm);
    serve();
    MPI_Comm_free(&pb__mpi.comm);
    MPI_Finalize();
    exit(0);
}

/* ------------------------------------------------------------------------
 * Rank 0
 * ------------------------------------------------------------------------ */

int pb__mpi_send_ctrl(int rank, uint32_t cmd, uint64_t a, uint64_t b)
{
    pb__mpi_ctrl c = {.magic = PB__MPI_CTRL_MAGIC, .cmd = cmd, .a = a, .b = b};
    return MPI_Send(&c, (int)sizeof c, MPI_BYTE, rank, PB__MPI_TAG_CTRL, pb__mpi.comm) ==
                   MPI_SUCCESS
               ? 0
               : PB_EBROKEN;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    char text[sizeof pb__mpi.why - 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(pb__mpi.why, sizeof pb__mpi.why, "mpi backend: %s", text);
    pb__mpi.state = PB__MPI_FAILED;
    return 0; /* rank 0 still runs the program; its mpi pools are refused */
}

/* Every worker's HELLO; checks that it can run our frames. */
static int collect_hellos(void)
{
    pb__mpi_peer *peers = calloc((size_t)pb__mpi.size, sizeof *peers);
    if (!peers)
        return fail("out of memory for %d ranks", pb__mpi.size);
    pb__mpi.peers = peers;
    describe_self(&peers[0]);
    peers[0].same_clock = true;
    for (int r = 1; r < pb__mpi.size; r++) {
        unsigned char buf[PB__WIRE_HELLO_HEAD + 512];
        MPI_Status st;
        MPI_Recv(buf, (int)sizeof buf, MPI_BYTE, r, PB__MPI_TAG_HELLO, pb__mpi.comm, &st);
        int n = 0;
        MPI_Get_count(&st, MPI_BYTE, &n);
        pb__frame fr;
        uint64_t need;
        char why[200];
        if (pb__wire_decode(buf, (size_t)n, sizeof buf, &fr, &need, why, sizeof why) !=
                PB__WIRE_FRAME ||
            fr.type != PB__WIRE_HELLO)
            return fail("rank %d is not a poolbench worker (its HELLO: %s)", r, why);
        peers[r].pid = fr.pid;
        parse_hello(fr.body, fr.body_len, &peers[r]);
        peers[r].same_clock = peers[r].boot[0] && !strcmp(peers[r].boot, peers[0].boot);
    }
    for (int r = 1; r < pb__mpi.size; r++)
        if (strcmp(peers[r].arch, peers[0].arch) != 0)
            return fail("rank %d on %s is %s, rank 0 is %s: the ranks must share one "
                        "architecture (tasks and results travel in native byte order)",
                        r, peers[r].host, peers[r].arch, peers[0].arch);
    return 0;
}

/* For ranks on another host (another boot): the offset of their
 * CLOCK_MONOTONIC from ours, from the round trip of least delay (as NTP). */
static void sync_clocks(void)
{
    for (int r = 1; r < pb__mpi.size; r++) {
        if (pb__mpi.peers[r].same_clock)
            continue;
        pb__mpi_send_ctrl(r, PB__MPI_CLOCK, CLOCK_SAMPLES, 0);
        int64_t best = INT64_MAX, offset = 0;
        for (int i = 0; i < CLOCK_SAMPLES; i++) {
            unsigned char byte = 0;
            int64_t theirs = 0;
            int64_t t0 = pb_now_ns();
            MPI_Send(&byte, 1, MPI_BYTE, r, PB__MPI_TAG_FLOOR, pb__mpi.comm);
            MPI_Recv(&theirs, 1, MPI_INT64_T, r, PB__MPI_TAG_FLOOR, pb__mpi.comm,
                     MPI_STATUS_IGNORE);
            int64_t t1 = pb_now_ns();
            if (t1 - t0 < best) {
                best = t1 - t0;
                offset = t0 + (t1 - t0) / 2 - theirs;
            }
        }
        pb__mpi.peers[r].offset = offset;
        pb__mpi.peers[r].offset_error = best / 2;
    }
}

/* The MCA settings that shape what is measured, as read back through the
 * MPI tool interface (their effective values, whatever set them). */
static void read_mca(void)
{
    static const char *const wanted[] = {
        "pml", "btl", "mtl", "mpi_yield_when_idle", "btl_vader_single_copy_mechanism",
        "btl_tcp_if_include", "btl_tcp_if_exclude", "opal_signal", NULL};
    char *out = pb__mpi.mca;
    size_t size = sizeof pb__mpi.mca, used = (size_t)snprintf(out, size, "{");
    int provided, n = 0;
    if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) {
        snprintf(out, size, "{}");
        return;
    }
    MPI_T_cvar_get_num(&n);
    bool first = true;
    for (int i = 0; i < n; i++) {
        char name[256], value[512] = "";
        int nlen = sizeof name, dlen = 0, verbosity, bind, scope, count;
        MPI_Datatype dt;
        MPI_T_enum en;
        if (MPI_T_cvar_get_info(i, name, &nlen, &verbosity, &dt, &en, NULL, &dlen, &bind,
                                &scope) != MPI_SUCCESS)
            continue;
        bool want = false;
        for (size_t k = 0; wanted[k] && !want; k++)
            want = !strcmp(wanted[k], name);
        MPI_T_cvar_handle h;
        if (!want || bind != MPI_T_BIND_NO_OBJECT ||
            MPI_T_cvar_handle_alloc(i, NULL, &h, &count) != MPI_SUCCESS)
            continue;
        union {
            char text[4096]; /* Open MPI says 2048 for its strings */
            int i;
            unsigned u;
            _Bool b;
            long long ll;
        } v;
        memset(&v, 0, sizeof v);
        if (count <= (dt == MPI_CHAR ? (int)sizeof v.text : 1) &&
            MPI_T_cvar_read(h, &v) == MPI_SUCCESS) {
            char raw[512];
            if (dt == MPI_CHAR)
                snprintf(raw, sizeof raw, "%.*s", (int)sizeof raw - 1, v.text);
            else if (dt == MPI_INT)
                snprintf(raw, sizeof raw, "%d", v.i);
            else if (dt == MPI_UNSIGNED)
                snprintf(raw, sizeof raw, "%u", v.u);
            else if (dt == MPI_C_BOOL)
                snprintf(raw, sizeof raw, "%s", v.b ? "true" : "false");
            else
                snprintf(raw, sizeof raw, "?");
            if (en != MPI_T_ENUM_NULL && dt == MPI_INT) { /* a named value */
                int items = 0;
                MPI_T_enum_get_info(en, &items, NULL, &(int){0});
                for (int k = 0; k < items; k++) {
                    int val, len = sizeof raw;
                    char item[512];
                    if (MPI_T_enum_get_item(en, k, &val, item, &len) == MPI_SUCCESS && val == v.i)
                        snprintf(raw, sizeof raw, "%s", item);
                }
            }
            json_text(raw, value, sizeof value);
            int w = snprintf(out + used, size - used, "%s\"%s\": \"%s\"", first ? "" : ", ",
                             name, value);
            if (w > 0 && (size_t)w < size - used - 2) {
                used += (size_t)w;
                first = false;
            }
        }
        MPI_T_cvar_handle_free(&h);
    }
    MPI_T_finalize();
    snprintf(out + used, size - used, "}");
}

/* MPI_Finalize runs this first (the attribute's delete callback on
 * MPI_COMM_SELF): release the workers while MPI still works. */
static int at_finalize(MPI_Comm comm, int key, void *value, void *extra)
{
    (void)comm;
    (void)key;
    (void)value;
    (void)extra;
    if (getpid() != pb__mpi.pid || pb__mpi.comm == MPI_COMM_NULL)
        return MPI_SUCCESS;
    pb__mpi_engine_abandon();
    for (int r = 1; r < pb__mpi.size; r++)
        pb__mpi_send_ctrl(r, PB__MPI_QUIT, 0, 0);
    MPI_Comm_free(&pb__mpi.comm);
    pb__mpi.comm = MPI_COMM_NULL;
    pb__mpi.state = PB__MPI_FAILED;
    snprintf(pb__mpi.why, sizeof pb__mpi.why, "mpi backend: MPI has been finalized");
    return MPI_SUCCESS;
}

static void at_exit(void)
{
    int done = 1;
    if (getpid() == pb__mpi.pid && pb__mpi.we_initialized && MPI_Finalized(&done) == MPI_SUCCESS &&
        !done)
        MPI_Finalize();
}

PB__ADAPTER_EXPORT int pb__mpi_worker_main(int argc, char **argv);

int pb__mpi_worker_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (pb__mpi.state != PB__MPI_NOT_LAUNCHED)
        return 0; /* called twice */
    setenv("OMPI_MCA_opal_signal", "", 0); /* no signal handlers in the host */
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized)
        return fail("MPI was finalized before pb_worker_main_if_requested() ran");
    if (!inited) {
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &pb__mpi.thread_level) !=
            MPI_SUCCESS)
            return pb_backend_error(PB_EBROKEN, "mpi backend: MPI_Init_thread failed");
        pb__mpi.we_initialized = true;
    } else {
        MPI_Query_thread(&pb__mpi.thread_level);
    }
    pb__mpi.pid = getpid();
    MPI_Comm_dup(MPI_COMM_WORLD, &pb__mpi.comm);
    MPI_Comm_rank(pb__mpi.comm, &pb__mpi.rank);
    MPI_Comm_size(pb__mpi.comm, &pb__mpi.size);
    if (pb__mpi.rank != 0)
        worker_rank(); /* never returns */

    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    version[strcspn(version, ",\n")] = 0;
    json_text(version, pb__mpi.library, sizeof pb__mpi.library); /* describe() quotes it */

    int key;
    MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, at_finalize, &key, NULL);
    MPI_Comm_set_attr(MPI_COMM_SELF, key, NULL);
    if (pb__mpi.we_initialized)
        atexit(at_exit);

    pb__mpi.state = PB__MPI_READY;
    collect_hellos();
    if (pb__mpi.state == PB__MPI_READY)
        sync_clocks();
    read_mca();
    if (pb__mpi.state == PB__MPI_READY && pb__mpi.size < 2)
        fail("this MPI job has one rank and so no worker rank: start it with mpiexec -n "
             "<workers+1> (rank 0 runs %s, ranks 1.. are the workers)",
             program_invocation_short_name);
    if (pb__mpi.state == PB__MPI_READY && pb__mpi.thread_level < MPI_THREAD_SERIALIZED)
        fail("MPI was initialised with thread level %d; the mpi backend calls MPI from its "
             "own thread and needs MPI_THREAD_SERIALIZED or more",
             pb__mpi.thread_level);
    return 0;
}

static char not_launched[640];

static void not_launched_fill(void)
{
    const char *prog = program_invocation_short_name;
    const char *mark = getenv("PB_LAUNCHED_PID");
    if (getenv("OMPI_COMM_WORLD_SIZE") && mark && atol(mark) != (long)getpid())
        snprintf(not_launched, sizeof not_launched,
                 "mpi backend: this %s was started by the program of an MPI rank (pid %s), "
                 "not by the MPI launcher, so it is no rank: only the rank itself can make "
                 "mpi pools", prog, mark);
    else if (getenv("OMPI_COMM_WORLD_SIZE"))
        snprintf(not_launched, sizeof not_launched,
                 "mpi backend: %s was started by an MPI launcher but did not call "
                 "pb_worker_main_if_requested(argc, argv) first thing in main(), so its "
                 "ranks did not become workers", prog);
    else
        snprintf(not_launched, sizeof not_launched,
                 "mpi backend: its workers are MPI ranks, and this %s was not started by "
                 "an MPI launcher: run `mpiexec -n <workers+1> %s ...` (rank 0 runs it, "
                 "ranks 1.. are the workers; --oversubscribe for more ranks than PUs, "
                 "--allow-run-as-root as root)", prog, prog);
}

const char *pb__mpi_unavailable(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    switch (pb__mpi.state) {
    case PB__MPI_READY:
        if (getpid() != pb__mpi.pid)
            return "mpi backend: this process was forked from MPI rank 0, and MPI cannot be "
                   "used in a forked child";
        return NULL;
    case PB__MPI_FAILED:
        return pb__mpi.why;
    default:
        pthread_once(&once, not_launched_fill);
        return not_launched;
    }
}
