from adapters.evolution.simulation.core import EvolutionSimulation
from adapters.evolution.simulation.settings import RetryPolicy, SimulationSettings
from adapters.evolution.simulation.webhooks import Deliver

__all__ = ["Deliver", "EvolutionSimulation", "RetryPolicy", "SimulationSettings"]
