"""The deployment config: model, loading with every problem at once, and its rules."""

from tenrec.config.load import load_config, load_text
from tenrec.config.model import Deployment, Node
from tenrec.config.problems import ConfigError, Problem

__all__ = ["ConfigError", "Deployment", "Node", "Problem", "load_config", "load_text"]
