// PKTPOOL_SANITIZER_BUILD: 1 when this translation unit is built with ASan or TSan (gcc or
// clang), else 0. For tests of glibc malloc itself, or of a fault on purpose, which
// mean nothing (or make a report that fails the run) under a sanitizer's runtime.
#ifndef PKTPOOL_TESTS_SUPPORT_SANITIZER_H_
#define PKTPOOL_TESTS_SUPPORT_SANITIZER_H_

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PKTPOOL_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PKTPOOL_SANITIZER_BUILD 1
#endif
#endif
#ifndef PKTPOOL_SANITIZER_BUILD
#define PKTPOOL_SANITIZER_BUILD 0
#endif

#endif  // PKTPOOL_TESTS_SUPPORT_SANITIZER_H_
