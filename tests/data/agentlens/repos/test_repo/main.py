def main():
    print("hello from the test repo")


if __name__ == "__main__":
    main()
