/*
 * adapters/mpi-floor.c — the MPI floors (pb/mpi.h): what MPI itself does
 * between rank 0 and a worker rank, with no pool in between.
 *
 * Rank 0 tells the peer what is coming with a CTRL message, then the two
 * exchange FLOOR messages with plain blocking MPI_Send and MPI_Recv, as any
 * MPI program would: the peer waits in MPI's own receive (mpi-rank.c,
 * floor_peer). A floor needs ranks 0 and the peer to itself, so it runs only
 * while no mpi pool exists (the harness measures floors before and between
 * pools), holding the lifecycle lock so that none is created meanwhile.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pb/mpi.h>

#include "mpi-int.h"

#define WARMUP 100

PB__ADAPTER_EXPORT int pb_mpi_floor_run(pb_mpi_floor *fl);

static int floor_error(pb_mpi_floor *fl, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int floor_error(pb_mpi_floor *fl, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fl->error, sizeof fl->error, fmt, ap);
    va_end(ap);
    return code;
}

static int pingpong(pb_mpi_floor *fl, unsigned char *buf)
{
    MPI_Comm comm = pb__mpi.comm;
    int bytes = (int)fl->bytes;
    pb__mpi_send_ctrl(fl->peer, PB__MPI_PINGPONG, WARMUP + fl->count, fl->bytes);
    for (size_t i = 0; i < WARMUP + fl->count; i++) {
        int64_t t0 = pb_now_ns();
        MPI_Send(buf, bytes, MPI_BYTE, fl->peer, PB__MPI_TAG_FLOOR, comm);
        MPI_Recv(buf, bytes, MPI_BYTE, fl->peer, PB__MPI_TAG_FLOOR, comm, MPI_STATUS_IGNORE);
        if (i >= WARMUP)
            fl->times[i - WARMUP] = pb_now_ns() - t0;
    }
    return 0;
}

static int stream(pb_mpi_floor *fl, unsigned char *buf)
{
    MPI_Comm comm = pb__mpi.comm;
    int bytes = (int)fl->bytes;
    unsigned char reply;
    for (int pass = 0; pass < 2; pass++) { /* a short warm-up stream, then the measured one */
        size_t n = pass ? fl->count : WARMUP;
        pb__mpi_send_ctrl(fl->peer, PB__MPI_STREAM, n, fl->bytes);
        int64_t t0 = pb_now_ns();
        for (size_t i = 0; i < n; i++)
            MPI_Send(buf, bytes, MPI_BYTE, fl->peer, PB__MPI_TAG_FLOOR, comm);
        MPI_Recv(&reply, 1, MPI_BYTE, fl->peer, PB__MPI_TAG_FLOOR, comm, MPI_STATUS_IGNORE);
        fl->elapsed = pb_now_ns() - t0;
    }
    return 0;
}

static int idle(pb_mpi_floor *fl)
{
    pb__mpi_send_ctrl(fl->peer, PB__MPI_IDLE_COST, fl->sleep ? 1 : 0, 0);
    struct timespec ts = {(time_t)(fl->wait_ns / 1000000000), (long)(fl->wait_ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    unsigned char byte = 0;
    MPI_Send(&byte, 1, MPI_BYTE, fl->peer, PB__MPI_TAG_FLOOR, pb__mpi.comm);
    int64_t reply[2];
    MPI_Recv(reply, 2, MPI_INT64_T, fl->peer, PB__MPI_TAG_FLOOR, pb__mpi.comm, MPI_STATUS_IGNORE);
    fl->cpu = reply[0];
    fl->elapsed = reply[1];
    return 0;
}

int pb_mpi_floor_run(pb_mpi_floor *fl)
{
    if (!fl)
        return PB_EINVAL;
    fl->error[0] = 0;
    const char *why = pb__mpi_unavailable();
    if (why)
        return floor_error(fl, PB_ENOTSUP, "%s", why);
    if (fl->peer < 1 || fl->peer >= pb__mpi.size)
        return floor_error(fl, PB_EINVAL, "no worker rank %d (the job has ranks 1..%d)",
                           fl->peer, pb__mpi.size - 1);
    bool counted = fl->kind == PB_MPI_FLOOR_PINGPONG || fl->kind == PB_MPI_FLOOR_STREAM;
    if (counted && (!fl->count || fl->bytes > (size_t)1 << 30 ||
                    (fl->kind == PB_MPI_FLOOR_PINGPONG && !fl->times)))
        return floor_error(fl, PB_EINVAL, "a count, at most 1 GiB messages, and room for times");
    if (fl->kind == PB_MPI_FLOOR_IDLE && fl->wait_ns <= 0)
        return floor_error(fl, PB_EINVAL, "a positive wait");
    unsigned char *buf = counted ? calloc(1, fl->bytes ? fl->bytes : 1) : NULL;
    if (counted && !buf)
        return floor_error(fl, PB_ENOMEM, "out of memory");

    int r;
    pthread_mutex_lock(&pb__mpi_lifecycle);
    if (pb__mpi_pools_alive_locked())
        r = floor_error(fl, -EBUSY, "an mpi pool exists: its ranks are the floor's peers, so "
                                    "floors run between pools");
    else if (fl->kind == PB_MPI_FLOOR_PINGPONG)
        r = pingpong(fl, buf);
    else if (fl->kind == PB_MPI_FLOOR_STREAM)
        r = stream(fl, buf);
    else if (fl->kind == PB_MPI_FLOOR_IDLE)
        r = idle(fl);
    else
        r = floor_error(fl, PB_EINVAL, "unknown floor %d", (int)fl->kind);
    pthread_mutex_unlock(&pb__mpi_lifecycle);
    free(buf);
    return r;
}
