"""`python -m fer_core.convert`: Keras weights to a TFLite registry folder (see fer_core.training.conversion)."""

from .training.conversion import main

if __name__ == "__main__":
    raise SystemExit(main())
