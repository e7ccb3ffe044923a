from clipdesk.app import main

raise SystemExit(main())
