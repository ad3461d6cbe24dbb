/*
 * faults.h — what the fault tests' main program and worker helper share.
 */
#ifndef PB_FAULTS_H
#define PB_FAULTS_H

/* Tasks every worker program of these tests knows (tasks.c). */
void faults_tasks_linked(void);

#endif
