/*
 * planted.c — a stand-in for a library an attacker leaves in the current
 * directory. tests/hardening/runpath.py copies it under the names of the
 * libraries poolbench needs (libhwloc.so.15, libjansson.so.4, ...) into a
 * scratch folder and runs poolbench there: if the loader ever picks it up,
 * its constructor leaves a mark in that folder, and the test fails.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void planted_library_loaded(void)
{
    static const char mark[] = "a library from the current directory was loaded\n";
    int fd = open("PLANTED-LIBRARY-LOADED", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ssize_t ignored = write(fd, mark, sizeof mark - 1);
        (void)ignored;
        close(fd);
    }
    ssize_t ignored = write(2, mark, sizeof mark - 1);
    (void)ignored;
}
