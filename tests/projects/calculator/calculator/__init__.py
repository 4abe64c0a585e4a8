"""A tiny calculator package used as an sbx sample project."""

from .core import add, divide, multiply, power, subtract

__all__ = ["add", "subtract", "multiply", "divide", "power"]
