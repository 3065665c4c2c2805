/* SPDX-License-Identifier: BSD-2-Clause */
/* Cleanup attributes in the systemd style: a variable declared with one is
 * released when it goes out of scope, on every path.  Every free function
 * used here accepts NULL. */
#ifndef TP_CLEANUP_H
#define TP_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

/* A pointer cleanup that calls func(p) when p is set. */
#define TP_DEFINE_POINTER_CLEANUP(type, func)                                                                          \
	static inline void func##p(type **p)                                                                           \
	{                                                                                                              \
		if (*p)                                                                                                \
			func(*p);                                                                                      \
	}

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Take a pointer out of a cleanup variable: `*ret = TAKE_PTR(p);`.
 * (cppcheck does not parse statement expressions: it sees the value.) */
#ifdef __CPPCHECK__
#define TAKE_PTR(p) (p)
#define TAKE_FD(fd) (fd)
#else
#define TAKE_PTR(p)                                                                                                    \
	({                                                                                                             \
		__typeof__(p) taken_ = (p);                                                                            \
		(p) = NULL;                                                                                            \
		taken_;                                                                                                \
	})

#define TAKE_FD(fd)                                                                                                    \
	({                                                                                                             \
		int taken_ = (fd);                                                                                     \
		(fd) = -1;                                                                                             \
		taken_;                                                                                                \
	})
#endif

#endif
