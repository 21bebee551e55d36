"""``python -m tfxkit.infra.cli``: the ``tfxkit`` command."""
from tfxkit.infra.cli import main

if __name__ == "__main__":
    main()
