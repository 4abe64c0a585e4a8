"""Smallest possible sbx sample: greet and show the sandbox clock."""

from datetime import datetime

print("Hello from the sandbox!")
print(datetime.now().astimezone().isoformat(timespec="seconds"))
