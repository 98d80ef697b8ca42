// openmp_spin: how long idle OpenMP threads spin before they sleep, set for every
// Corolla program before libgomp starts.
//
// The hops of a route run one after the other, so the Corolla processes of a machine
// take turns computing. libgomp's idle workers spin GOMP_SPINCOUNT times (300 000 by
// default) before sleeping: a process that has just finished its hop keeps the cores
// spinning while the next hop's process computes. 10 000 spins still cover the barriers
// inside a kernel and let the cores go between hops: `corolla bench swarm`, 2 processes
// 74% -> 96% of the single-process tokens/s; the single process itself is unchanged.
#pragma once

namespace corolla {

// When GOMP_SPINCOUNT is not set, sets it and re-executes the program (libgomp reads it
// once, as it loads); returns only when it is set or re-executing failed.
void limit_openmp_spinning(char** argv);

}  // namespace corolla
