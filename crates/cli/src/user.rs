//! `tuilerie user …`: the users of the publication API, who log in at `POST /api/auth/token`
//! (as IGN's SDK does) and reach only their datastores. Passwords come from standard input,
//! never from the command line (where `ps` and shell histories would show them).

use std::io::BufRead as _;
use std::process::ExitCode;

use server::error_chain;

use crate::publish::CatalogArgs;

/// `tuilerie user …`
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a user, member of the given datastores (default: the default datastore).
    Add {
        /// The login.
        login: String,
        /// A datastore the user belongs to (repeat for several).
        #[arg(long = "datastore", value_name = "ID")]
        datastores: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        catalog: CatalogArgs,
    },
    /// Change a user's password (their tokens are revoked).
    Passwd {
        /// The login.
        login: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        catalog: CatalogArgs,
    },
    /// Remove a user (their tokens are revoked).
    Remove {
        /// The login.
        login: String,
        #[command(flatten)]
        catalog: CatalogArgs,
    },
    /// List the users and their datastores.
    List {
        #[command(flatten)]
        catalog: CatalogArgs,
    },
}

/// Runs `tuilerie user …`.
pub fn run(command: &UserCommand) -> ExitCode {
    let args = match command {
        UserCommand::Add { catalog, .. }
        | UserCommand::Passwd { catalog, .. }
        | UserCommand::Remove { catalog, .. }
        | UserCommand::List { catalog } => catalog,
    };
    let (config, _logging) =
        match crate::setup::load_config(args.config.as_deref(), None, args.data.clone()) {
            Ok(loaded) => loaded,
            Err(code) => return code,
        };
    let catalog = match server::open_catalog(&config) {
        Ok(catalog) => catalog,
        Err(error) => return fail(&error_chain(&error)),
    };
    let outcome = match command {
        UserCommand::Add {
            login,
            datastores,
            password_stdin,
            ..
        } => read_password(*password_stdin).and_then(|password| {
            catalog
                .add_user(login, &password, datastores)
                .map(|user| {
                    format!(
                        "added user '{}' (datastores: {}); it logs in at POST /api/auth/token",
                        user.login,
                        user.datastores.join(", ")
                    )
                })
                .map_err(|e| error_chain(&e))
        }),
        UserCommand::Passwd {
            login,
            password_stdin,
            ..
        } => read_password(*password_stdin).and_then(|password| {
            catalog
                .set_password(login, &password)
                .map(|()| format!("changed the password of '{login}'; its tokens are revoked"))
                .map_err(|e| error_chain(&e))
        }),
        UserCommand::Remove { login, .. } => catalog
            .remove_user(login)
            .map(|()| format!("removed user '{login}'"))
            .map_err(|e| error_chain(&e)),
        UserCommand::List { .. } => catalog
            .users()
            .map(|users| {
                users
                    .iter()
                    .map(|u| format!("{}\t{}", u.login, u.datastores.join(",")))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .map_err(|e| error_chain(&e)),
    };
    match outcome {
        Ok(message) => {
            if !message.is_empty() {
                println!("{message}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn read_password(from_stdin: bool) -> Result<String, String> {
    if !from_stdin {
        return Err(
            "give the password on standard input with --password-stdin, e.g. `printf '%s\\n' \"$PASSWORD\" | tuilerie user add LOGIN --password-stdin`"
                .to_owned(),
        );
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("standard input held no password".to_owned());
    }
    Ok(password)
}
