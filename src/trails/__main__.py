from trails.fast import main

main()
