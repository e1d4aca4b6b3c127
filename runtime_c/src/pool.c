/*
 * pool.c - the thread pool of pool.h on POSIX threads: one mutex guards the job (the node, the
 * next task to hand out, how many are finished); workers sleep on `wake` between jobs and the
 * caller sleeps on `done` until the last task of its job finishes.
 */
#define _POSIX_C_SOURCE 200112L /* pthreads under -std=c99 */

#include "pool.h"

/* Every task of node, one after the other, on the calling thread. */
static void te_run_serial(const te_node *node, void *scratch)
{
    for (int t = 0; t < node->tasks; t++)
        node->kernel->eval(node, scratch, t);
}

#if defined(TE_NO_THREADS)

te_pool *te_pool_create(int threads, unsigned char *scratch, size_t scratch_stride)
{
    (void)threads;
    (void)scratch;
    (void)scratch_stride;
    return NULL;
}

void te_pool_run(te_pool *pool, const te_node *node, void *scratch)
{
    (void)pool;
    te_run_serial(node, scratch);
}

void te_pool_free(te_pool *pool) { (void)pool; }

#else

#include <pthread.h>
#include <stdlib.h>

struct te_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;  /* a new job, or stop */
    pthread_cond_t done;  /* the job's last task finished */
    unsigned char *scratch;
    size_t scratch_stride;
    int n_workers, n_started;
    pthread_t *workers;
    struct te_pool_worker *args;
    /* The job, under lock. */
    const te_node *node;
    int next_task, finished;
    unsigned long job;  /* counts jobs, so a worker knows a new one from the one it did */
    int stop;
};

/* What a worker thread is given: its pool and its index (1.. ; 0 is the caller's). */
typedef struct te_pool_worker {
    te_pool *pool;
    int index;
} te_pool_worker;

/* Take and run tasks of the current job until none is left; called and returns with the lock held.
 * index chooses the thread's scratch buffer. */
static void te_pool_work(te_pool *p, int index)
{
    const te_node *node = p->node;
    void *scratch = p->scratch ? p->scratch + (size_t)index * p->scratch_stride : NULL;
    while (p->next_task < node->tasks) {
        int task = p->next_task++;
        pthread_mutex_unlock(&p->lock);
        node->kernel->eval(node, scratch, task);
        pthread_mutex_lock(&p->lock);
        if (++p->finished == node->tasks)
            pthread_cond_signal(&p->done);
    }
}

static void *te_pool_main(void *arg)
{
    const te_pool_worker *w = (const te_pool_worker *)arg;
    te_pool *p = w->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->job == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->job;
        te_pool_work(p, w->index);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

te_pool *te_pool_create(int threads, unsigned char *scratch, size_t scratch_stride)
{
    te_pool *p = (te_pool *)calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->scratch = scratch;
    p->scratch_stride = scratch_stride;
    p->n_workers = threads - 1;
    p->workers = (pthread_t *)calloc((size_t)p->n_workers, sizeof *p->workers);
    p->args = (te_pool_worker *)calloc((size_t)p->n_workers, sizeof *p->args);
    if (p->workers == NULL || p->args == NULL || pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p->workers);
        free(p->args);
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < p->n_workers; i++) {
        p->args[i].pool = p;
        p->args[i].index = i + 1;
        if (pthread_create(&p->workers[i], NULL, te_pool_main, &p->args[i]) != 0) {
            te_pool_free(p);
            return NULL;
        }
        p->n_started++;
    }
    return p;
}

void te_pool_run(te_pool *p, const te_node *node, void *scratch)
{
    if (p == NULL || node->tasks < 2) {
        te_run_serial(node, scratch);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->node = node;
    p->next_task = 0;
    p->finished = 0;
    p->job++;
    pthread_cond_broadcast(&p->wake);
    te_pool_work(p, 0);
    while (p->finished < node->tasks)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void te_pool_free(te_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_started; i++)
        pthread_join(p->workers[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p->args);
    free(p);
}

#endif /* TE_NO_THREADS */
