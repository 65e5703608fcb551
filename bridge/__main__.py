from bridge.cli import main

# guarded: worker processes started with "spawn" import the main module again
if __name__ == "__main__":
    raise SystemExit(main())
