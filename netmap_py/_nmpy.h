/* Small C helpers for netmap_py's Cython code: ordered loads/stores on memory
 * shared with the kernel, and a portable full barrier. */
#ifndef NETMAP_PY_NMPY_H
#define NETMAP_PY_NMPY_H
#include <stdint.h>

static inline uint32_t nmpy_load_acquire(const volatile uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void nmpy_store_release(volatile uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline void nmpy_barrier(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
#endif
