/*
 * H4MK_API marks what libh4mk and libh4mk-adapters export: the libraries
 * are built with hidden visibility, so that only their API is visible.
 */
#ifndef H4MK_EXPORT_H
#define H4MK_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define H4MK_API __attribute__((visibility("default")))
#else
#define H4MK_API
#endif

/* Around the declarations of a C++ header of the API. */
#if defined(__GNUC__) || defined(__clang__)
#define H4MK_CXX_API_BEGIN _Pragma("GCC visibility push(default)")
#define H4MK_CXX_API_END _Pragma("GCC visibility pop")
#else
#define H4MK_CXX_API_BEGIN
#define H4MK_CXX_API_END
#endif

#endif /* H4MK_EXPORT_H */
