from yurt.cli import main

main()
