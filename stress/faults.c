/*
 * faults.c — the faults a stress run can inject, by name: parsing a list
 * ("crash,kill"), naming one, writing a set back as a list. See stress.h.
 */
#include <stdio.h>
#include <string.h>

#include "stress.h"

/* By bit index: fault_names[i] names 1u << i. */
static const char *const fault_names[PBS_FAULT_KINDS] = {"fail", "segv", "abort", "exit",
                                                         "kill", "hang", "recycle"};

const char *pbs_stress_fault_name(unsigned bit)
{
    for (unsigned i = 0; i < PBS_FAULT_KINDS; i++)
        if (bit == 1u << i)
            return fault_names[i];
    return NULL;
}

void pbs_stress_faults_text(unsigned mask, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < PBS_FAULT_KINDS; i++)
        if (mask & (1u << i))
            used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                                     used ? "," : "", fault_names[i]);
    if (!used)
        snprintf(buf, size, "none");
}

/* The bits the list item p[0..n) names; 0 with *known false if none. */
static unsigned item_bits(const char *p, size_t n, bool *known)
{
    static const struct {
        const char *name;
        unsigned bits;
    } groups[] = {{"crash", PBS_FAULT_SEGV | PBS_FAULT_ABORT | PBS_FAULT_EXIT},
                  {"all", PBS_FAULT_ALL},
                  {"none", 0}};
    *known = true;
    for (unsigned i = 0; i < PBS_FAULT_KINDS; i++)
        if (strlen(fault_names[i]) == n && !strncmp(p, fault_names[i], n))
            return 1u << i;
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (strlen(groups[i].name) == n && !strncmp(p, groups[i].name, n))
            return groups[i].bits;
    *known = false;
    return 0;
}

int pbs_stress_parse_faults(const char *text, unsigned *mask, char *err, size_t errlen)
{
    unsigned m = 0;
    if (!*text) {
        snprintf(err, errlen, "empty fault list (use 'none' for no faults)");
        return -1;
    }
    for (const char *p = text;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        bool known;
        if (n == 0) {
            snprintf(err, errlen, "empty name in fault list '%s'", text);
            return -1;
        }
        m |= item_bits(p, n, &known);
        if (!known) {
            snprintf(err, errlen,
                     "unknown fault '%.*s' (known: fail, segv, abort, exit, crash, kill, hang, "
                     "recycle, all, none)",
                     (int)n, p);
            return -1;
        }
        if (!c)
            break;
        p = c + 1;
    }
    *mask = m;
    return 0;
}
