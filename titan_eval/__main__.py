from titan_eval.cli.app import main

main()
