/*
 * list.h — every scenario, in the order `poolbench list` shows them and the
 * harness runs them. Adding a scenario: its file in this folder, which
 * defines `const pb_scenario pb_scenario_NAME`, and one line here.
 *
 * native is the reference of the adapter tax: each outside library through
 * its own API, paired with the adapter's metrics by harness/native.c.
 *
 * PB_FLOOR lines are the machine's own floor: measured in every run (backend
 * "floor"), on the CPUs the pools' workers get, and used as the reference of
 * the ratio_to_floor figures (harness/floor.c says which metric compares to
 * which). The mpi floors are measured only where the mpi backend can run
 * (under mpiexec).
 */
PB_FLOOR(clock)
PB_FLOOR(futex_pingpong)
PB_FLOOR(pipe_pingpong)
PB_FLOOR(spin_pingpong)
PB_FLOOR(queue)
PB_FLOOR(pipe_stream)
PB_FLOOR(thread_start)
PB_FLOOR(spawn)
PB_FLOOR(timedwait)
PB_FLOOR(timedwait_tight)
PB_FLOOR(mpi_pingpong)
PB_FLOOR(mpi_stream)

PB_SCENARIO(submit)
PB_SCENARIO(roundtrip)
PB_SCENARIO(retrieval)
PB_SCENARIO(timeout)
PB_SCENARIO(throughput)
PB_SCENARIO(load)
PB_SCENARIO(granularity)
PB_SCENARIO(scaling)
PB_SCENARIO(map)
PB_SCENARIO(native)
PB_SCENARIO(as_completed)
PB_SCENARIO(cancel)
PB_SCENARIO(callbacks)
PB_SCENARIO(errors)
PB_SCENARIO(faults)
PB_SCENARIO(contention)
PB_SCENARIO(nested)
PB_SCENARIO(startup)
PB_SCENARIO(idle)
PB_SCENARIO(payload)
