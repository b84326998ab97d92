// Included first in every source of the addon on x86-64 Linux with glibc (see
// CMakeLists.txt): the few functions whose default symbol version is newer than
// glibc 2.27 are bound to their first version, which every glibc since 2.2.5
// still provides, so that one addon built here loads on older systems too
// (Debian 11, Ubuntu 20.04, RHEL 8: glibc 2.28-2.31; Node 20 needs 2.28).
//   log     GLIBC_2.29 (a faster log without SVID error handling; the same values)
//   dl*     GLIBC_2.34 (moved from libdl into libc; the old versions stay in both)
// test/unit/install.test.ts checks the built addon's symbol versions.
#pragma once

#if defined(__linux__) && defined(__x86_64__) && defined(__LP64__)  // (not x32, whose first version is another)
#include <features.h>
#if defined(__GLIBC__) && !defined(DEEPRNN_NO_SYMVER)
__asm__(".symver log,log@GLIBC_2.2.5");
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
__asm__(".symver dlerror,dlerror@GLIBC_2.2.5");
__asm__(".symver dlinfo,dlinfo@GLIBC_2.3.3");
#endif
#endif
