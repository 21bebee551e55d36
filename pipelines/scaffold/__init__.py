"""``tfxkit new``: a use case from your data (profile -> plan -> write) or a template."""
from .plan import Plan, PlanError, make_plan
from .profile import Profile, ProfileError, profile

__all__ = ["Plan", "PlanError", "Profile", "ProfileError", "make_plan", "profile"]
