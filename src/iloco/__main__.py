from iloco.cli import main

raise SystemExit(main())
