"""Policies by family; importing this package registers them all.

``base`` holds the interface and registry, ``classic`` the IPD strategies,
``temperaments`` trust-conditioned and selfish rankings for the cooperation
environments, ``preferences`` orders over named acts for the conflict environments,
``learners`` policies that learn within a run (state per agent, in arrays), ``strategic``
a bargainer weighing the gain of deceiving against its learned risk of being caught.
"""

from agents.policies import (  # noqa: F401  (registration)
    classic,
    learners,
    preferences,
    strategic,
    temperaments,
)
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
