//! The `trailscope` binary: argument parsing and printing (`cli`), over the library.

mod cli;

fn main() -> std::process::ExitCode {
    trailscope::bound_allocator();
    cli::main()
}
