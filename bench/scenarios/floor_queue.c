/*
 * floor_queue.c — the floor of streaming tasks from one thread to another.
 *
 * A 1→1 queue under a pthread mutex with a condition variable, the textbook
 * hand-off between threads: the caller (this thread) pushes `messages`
 * 8-byte items, one lock/unlock each, signalling only when the consumer
 * waits; a consumer thread (bound where the pools' worker 0 is bound) pops
 * them one at a time, one lock/unlock each, sleeping on the condition
 * variable when the queue is empty. The queue is a preallocated ring, so
 * nothing is allocated per item.
 *   rate  items per second, from before the first push to the consumer's
 *         last pop, one value per repetition.
 * Thread backends' bursts (throughput of empty tasks, map) are held against
 * this: a pool that queues tasks one at a time under a lock pays at least
 * this much per task.
 */
#include <pthread.h>
#include <sched.h>

#include "common.h"

typedef struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    uint64_t *ring;
    size_t head, tail, n; /* positions count items; tail - head are queued */
    bool waiting;         /* the consumer sleeps on nonempty */
    uint64_t sum;         /* what the consumer popped, checked afterwards */
    int64_t end;          /* when the consumer popped the last item */
    cpu_set_t cpus;
    bool bind;
} queue;

static void *consumer(void *p)
{
    queue *q = p;
    if (q->bind)
        pthread_setaffinity_np(pthread_self(), sizeof q->cpus, &q->cpus);
    uint64_t sum = 0;
    for (size_t i = 0; i < q->n; i++) {
        pthread_mutex_lock(&q->lock);
        while (q->head == q->tail) {
            q->waiting = true;
            pthread_cond_wait(&q->nonempty, &q->lock);
            q->waiting = false;
        }
        sum += q->ring[q->head++ % q->n];
        pthread_mutex_unlock(&q->lock);
    }
    q->end = pb_now_ns();
    q->sum = sum;
    return NULL;
}

static int run(pb_sc *sc)
{
    size_t n = (size_t)pb_sc_num(sc, "messages");
    queue q = {.n = n};
    q.bind = pb_sc_floor_cpus(sc, 0, &q.cpus) == 1;
    q.ring = pbs_calloc(sc, n, sizeof *q.ring);
    if (!q.ring)
        return PB_ENOMEM;
    pb_samples *rate = pb_sc_metric(sc, "rate", "tasks/s", PBR_HIGHER, 1);
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.nonempty, NULL);
    pthread_t t;
    int e = pthread_create(&t, NULL, consumer, &q);
    if (e) {
        free(q.ring);
        return pb_sc_fail(sc, -e, "cannot start the consumer thread: %s", pb_strerror(-e));
    }
    int64_t t0 = pb_now_ns();
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&q.lock);
        q.ring[q.tail++ % n] = i;
        if (q.waiting)
            pthread_cond_signal(&q.nonempty);
        pthread_mutex_unlock(&q.lock);
    }
    pthread_join(t, NULL);
    pthread_cond_destroy(&q.nonempty);
    pthread_mutex_destroy(&q.lock);
    free(q.ring);
    uint64_t want = (uint64_t)n * (n - 1) / 2;
    pb_sc_check(sc, "delivered", q.sum == want, "the consumer popped items summing to %llu, not %llu",
                (unsigned long long)q.sum, (unsigned long long)want);
    if (q.end > t0)
        pb_samples_add(rate, (double)n * 1e9 / (double)(q.end - t0));
    return 0;
}

static const pb_param params[] = {
    {"messages", PB_PARAM_COUNT, "1000000", "items passed per repetition", 1, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

const pb_scenario pb_scenario_queue = {
    .name = "queue",
    .summary = "1->1 mutex + condition variable queue between two threads, an item per lock: rate",
    .headline = "rate",
    .params = params,
    .flags = PB_SC_FLOOR,
    .run = run,
};
