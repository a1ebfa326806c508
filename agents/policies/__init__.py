"""Policies by family; importing this package registers them all.

``base`` holds the interface and registry, ``classic`` the IPD strategies,
``temperaments`` trust-conditioned and selfish rankings for the cooperation
environments, ``preferences`` orders over named acts for the conflict environments,
``learners`` policies that learn within a run (state per agent, in arrays).
"""

from agents.policies import classic, learners, preferences, temperaments  # noqa: F401  (registration)
from agents.policies.base import (
    COIN_SIDES,
    COOPERATED,
    DEFECTED,
    NONE,
    POLICIES,
    TRUST_BUCKETS,
    BatchPolicy,
    Policy,
    RankingPolicy,
    make_policy,
    policy,
)

__all__ = ["COIN_SIDES", "COOPERATED", "DEFECTED", "NONE", "POLICIES", "TRUST_BUCKETS", "BatchPolicy",
           "Policy", "RankingPolicy", "make_policy", "policy"]
