/*
 * pool.h - the runtime's thread pool: a fixed set of worker threads, created at load and joined at
 * te_model_free, that run the tasks of one op (te_node.tasks, te_internal.h) together with the
 * invoking thread, then return when every task is done (a barrier between ops).
 *
 * Tasks are handed out one at a time from a counter, so which thread runs a task varies from run to
 * run; results do not, because each task writes its own part of the output and computes it as a
 * one-task run would. Each thread has its own scratch buffer.
 *
 * A build with TE_NO_THREADS has no pool: te_pool_create returns NULL and te_pool_run runs every
 * task on the caller.
 */
#ifndef TE_POOL_H
#define TE_POOL_H

#include <stddef.h>

#include "te_internal.h"

#define TE_MAX_THREADS 64  /* te_options.threads above this is refused */

typedef struct te_pool te_pool;

/* Start threads - 1 workers (threads >= 2). scratch: threads buffers of scratch_stride bytes each,
 * buffer 0 the caller's; it must outlive the pool. Returns NULL when threads cannot be created
 * (TE_NO_THREADS builds: always). */
te_pool *te_pool_create(int threads, unsigned char *scratch, size_t scratch_stride);

/* Run tasks 0 .. node->tasks - 1 of node and return when all are done: on the pool and the calling
 * thread when there is a pool and more than one task, else one after the other on the calling
 * thread with `scratch` (the caller's buffer). Allocates nothing. Being a function of its own, it is
 * where a node's eval calls return between tasks, so te_model_invoke sees one call per op (the
 * instruction counts of benchmarks/arm_kernels.py rely on it). */
void te_pool_run(te_pool *pool, const te_node *node, void *scratch);

/* Stop and join the workers, then free the pool. NULL is ignored. */
void te_pool_free(te_pool *pool);

#endif /* TE_POOL_H */
