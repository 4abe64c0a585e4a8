"""Basic arithmetic operations."""


def add(a, b):
    """Return a + b."""
    return a + b


def subtract(a, b):
    """Return a - b."""
    return a - b


def multiply(a, b):
    """Return a * b."""
    return a * b


def divide(a, b):
    """Return a / b; raise ZeroDivisionError when b is zero."""
    if b == 0:
        raise ZeroDivisionError("cannot divide by zero")
    return a / b


def power(base, exponent):
    """Return base ** exponent."""
    return base**exponent
