#include <stdio.h>

#include "commands.h"

int pb_cmd_plot(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "poolbench plot: not built yet\n");
    return 2;
}
