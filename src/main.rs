fn main() -> std::process::ExitCode {
    trailscope::cli::main()
}
