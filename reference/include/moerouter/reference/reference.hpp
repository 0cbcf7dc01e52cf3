// Everything in moerouter::reference: generator, oracle, near-tie bound, judge.
#pragma once
#include "moerouter/reference/generate.hpp"
#include "moerouter/reference/judge.hpp"
#include "moerouter/reference/near_tie.hpp"
#include "moerouter/reference/oracle.hpp"
#include "moerouter/reference/ranking.hpp"
#include "moerouter/reference/rng.hpp"
