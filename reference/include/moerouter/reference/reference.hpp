// Everything in moerouter::reference: generator, oracle, near-tie bound, judge, check.
#pragma once
#include "moerouter/reference/check.hpp"
#include "moerouter/reference/from_tensors.hpp"
#include "moerouter/reference/generate.hpp"
#include "moerouter/reference/judge.hpp"
#include "moerouter/reference/near_tie.hpp"
#include "moerouter/reference/oracle.hpp"
#include "moerouter/reference/parallel_rows.hpp"
#include "moerouter/reference/ranking.hpp"
#include "moerouter/reference/rng.hpp"
