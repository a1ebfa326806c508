"""Policies by family; importing this package registers them all.

``base`` holds the interface and registry, ``classic`` the IPD strategies,
``temperaments`` trust-conditioned and selfish rankings for the cooperation
environments, ``preferences`` orders over named acts for the conflict environments,
``learners`` policies that learn within a run (state per agent, in arrays), ``beliefs``
fictitious play over partners' moves, ``strategic``
a bargainer weighing the gain of deceiving against its learned risk of being caught,
``contributors`` a conditional cooperator for public goods games, ``care`` an answerer
weighing a child's feelings against the truth, ``harvesters`` a fisher with its own
appetite for a shared resource, ``susceptible`` how readily an agent carries
out the orders messages bring.
"""

from agents.policies import (  # noqa: F401  (registration)
    beliefs,
    care,
    classic,
    contributors,
    harvesters,
    learners,
    preferences,
    strategic,
    susceptible,
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
