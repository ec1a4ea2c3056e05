from trails.ui.cli import main

main()
