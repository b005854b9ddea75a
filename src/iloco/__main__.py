from iloco.core.cli import main

raise SystemExit(main())
