"""Run every benchmark: python -m bench"""

from bench.delivery_throughput import main

main()
