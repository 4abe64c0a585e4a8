import pytest

from calculator import add, divide, multiply, power, subtract


def test_add():
    assert add(2, 3) == 5
    assert add(-1, 1) == 0


def test_subtract():
    assert subtract(10, 4) == 6
    assert subtract(4, 10) == -6


def test_multiply():
    assert multiply(6, 7) == 42
    assert multiply(-3, 3) == -9


def test_divide():
    assert divide(9, 3) == 3
    assert divide(1, 4) == pytest.approx(0.25)
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)


def test_power():
    assert power(2, 10) == 1024
    assert power(9, 0.5) == pytest.approx(3.0)
