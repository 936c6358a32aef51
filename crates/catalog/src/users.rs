//! Users of the publication API and the bearer tokens they are issued, as the Géoplateforme's
//! Keycloak issues them to its Entrepôt's clients (IGN's SDK logs in with a login and a
//! password, then sends `Authorization: Bearer …`).
//!
//! Passwords are kept as Argon2id PHC strings; tokens as SHA-256 hashes with their expiry, in
//! the catalog's database, so that every process on the data directory (the CLI, a second
//! server) honours the same tokens. A user belongs to datastores and sees only those.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::access::{hash_key, random_secret};
use crate::db::{Param, Row};
use crate::jobs::seconds_now;
use crate::{Catalog, CatalogError, DEFAULT_DATASTORE};

/// A user of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable id.
    pub id: String,
    /// Login.
    pub login: String,
    /// The datastores the user belongs to.
    pub datastores: Vec<String>,
    /// Creation date (RFC 3339).
    pub creation: String,
}

/// A token issued by [`Catalog::issue_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The bearer token (shown once: only its hash is kept).
    pub value: String,
    /// Its lifetime.
    pub expires_in: Duration,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn check_login(login: &str) -> Result<(), CatalogError> {
    let valid = !login.is_empty()
        && login.len() <= 64
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if valid {
        Ok(())
    } else {
        Err(CatalogError::Invalid(format!(
            "login '{login}' is not valid: use 1 to 64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

fn check_password(password: &str) -> Result<(), CatalogError> {
    if password.chars().count() < 8 {
        return Err(CatalogError::Invalid(
            "the password is shorter than 8 characters: choose a longer one".to_owned(),
        ));
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, CatalogError> {
    // 16 random bytes (uuid v4 draws them from the OS).
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
        .map_err(|e| CatalogError::Internal(format!("salting a password: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| CatalogError::Internal(format!("hashing a password: {e}")))
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

fn row_to_user(row: &Row) -> Result<(User, String), CatalogError> {
    Ok((
        User {
            id: row.text(0)?,
            login: row.text(1)?,
            datastores: serde_json::from_str(&row.text(2)?).unwrap_or_default(),
            creation: row.text(3)?,
        },
        row.text(4)?,
    ))
}

impl Catalog {
    /// Adds a user with a password, member of `datastores` (the default datastore when empty).
    pub fn add_user(
        &self,
        login: &str,
        password: &str,
        datastores: &[String],
    ) -> Result<User, CatalogError> {
        check_login(login)?;
        check_password(password)?;
        let datastores = if datastores.is_empty() {
            vec![DEFAULT_DATASTORE.to_owned()]
        } else {
            datastores.to_vec()
        };
        for datastore in &datastores {
            crate::check_datastore(datastore)?;
        }
        let user = User {
            id: crate::new_id(),
            login: login.to_owned(),
            datastores,
            creation: crate::now(),
        };
        let hash = hash_password(password)?;
        self.change(false, |tx| {
            let exists = tx.query_one("SELECT id FROM users WHERE login = ?1", &[login.into()])?;
            if exists.is_some() {
                return Err(CatalogError::Conflict(format!(
                    "user '{login}' already exists: change its password with `tuilerie user passwd {login}`"
                )));
            }
            let datastores =
                serde_json::to_string(&user.datastores).map_err(|e| CatalogError::Internal(e.to_string()))?;
            tx.execute(
                "INSERT INTO users (id, login, datastores, creation, password_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[(&user.id).into(), (&user.login).into(), (&datastores).into(), (&user.creation).into(), (&hash).into()],
            )?;
            Ok(())
        })?;
        Ok(user)
    }

    /// Sets a user's password; the user's tokens are revoked.
    pub fn set_password(&self, login: &str, password: &str) -> Result<(), CatalogError> {
        check_password(password)?;
        let hash = hash_password(password)?;
        self.change(false, |tx| {
            let changed = tx.execute(
                "UPDATE users SET password_hash = ?1 WHERE login = ?2",
                &[(&hash).into(), login.into()],
            )?;
            if changed == 0 {
                return Err(not_found(login));
            }
            tx.execute("DELETE FROM tokens WHERE login = ?1", &[login.into()])?;
            Ok(())
        })
    }

    /// Removes a user and revokes their tokens.
    pub fn remove_user(&self, login: &str) -> Result<(), CatalogError> {
        self.change(false, |tx| {
            let removed = tx.execute("DELETE FROM users WHERE login = ?1", &[login.into()])?;
            if removed == 0 {
                return Err(not_found(login));
            }
            tx.execute("DELETE FROM tokens WHERE login = ?1", &[login.into()])?;
            Ok(())
        })
    }

    /// Every user, by login.
    pub fn users(&self) -> Result<Vec<User>, CatalogError> {
        self.read(|sql| {
            sql.query(
                "SELECT id, login, datastores, creation, password_hash FROM users ORDER BY login",
                &[],
            )?
            .iter()
            .map(|row| row_to_user(row).map(|(user, _)| user))
            .collect()
        })
    }

    /// A token for `login` when `password` is theirs; `None` for wrong credentials (an
    /// unknown login costs a hash too, so that timing does not tell logins apart).
    pub fn issue_token(
        &self,
        login: &str,
        password: &str,
        lifetime: Duration,
    ) -> Result<Option<IssuedToken>, CatalogError> {
        let stored = self.user_and_hash(login)?;
        let matches = if let Some((_, hash)) = &stored {
            password_matches(password, hash)
        } else {
            // The same work as a real check.
            let _ = hash_password(password);
            false
        };
        if !matches {
            return Ok(None);
        }
        let value = random_secret();
        let expires =
            seconds_now().saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
        self.change(false, |tx| {
            tx.execute(
                "DELETE FROM tokens WHERE expires <= ?1",
                &[Param::Int(seconds_now())],
            )?;
            let hash = hex(&hash_key(&value));
            tx.execute(
                "INSERT INTO tokens (hash, login, expires) VALUES (?1, ?2, ?3)",
                &[(&hash).into(), login.into(), Param::Int(expires)],
            )?;
            Ok(())
        })?;
        Ok(Some(IssuedToken {
            value,
            expires_in: lifetime,
        }))
    }

    /// The user a bearer token was issued to, while it has not expired.
    pub fn token_user(&self, value: &str) -> Result<Option<User>, CatalogError> {
        let hash = hex(&hash_key(value));
        self.read(|sql| {
            sql.query_one(
                "SELECT u.id, u.login, u.datastores, u.creation, u.password_hash FROM tokens t \
                 JOIN users u ON u.login = t.login WHERE t.hash = ?1 AND t.expires > ?2",
                &[(&hash).into(), Param::Int(seconds_now())],
            )?
            .map(|row| row_to_user(&row).map(|(user, _)| user))
            .transpose()
        })
    }

    fn user_and_hash(&self, login: &str) -> Result<Option<(User, String)>, CatalogError> {
        self.read(|sql| {
            sql.query_one(
                "SELECT id, login, datastores, creation, password_hash FROM users WHERE login = ?1",
                &[login.into()],
            )?
            .map(|row| row_to_user(&row))
            .transpose()
        })
    }
}

fn not_found(login: &str) -> CatalogError {
    CatalogError::NotFound {
        kind: "user",
        id: login.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::catalog;

    #[test]
    fn a_user_gets_tokens_for_the_right_password_only_and_loses_them_with_a_new_one() {
        let catalog = catalog();
        let user = catalog.add_user("marie", "correct horse", &[]).unwrap();
        assert_eq!(user.datastores, ["default"]);
        assert!(matches!(
            catalog.add_user("marie", "another password", &[]),
            Err(CatalogError::Conflict(_))
        ));
        assert!(matches!(
            catalog.add_user("bad login!", "long enough", &[]),
            Err(CatalogError::Invalid(_))
        ));
        assert!(matches!(
            catalog.add_user("paul", "short", &[]),
            Err(CatalogError::Invalid(_))
        ));
        assert!(matches!(
            catalog.add_user("paul", "long enough", &["elsewhere".to_owned()]),
            Err(CatalogError::NotFound { .. } | CatalogError::Invalid(_))
        ));

        let hour = Duration::from_hours(1);
        assert!(catalog
            .issue_token("marie", "wrong password", hour)
            .unwrap()
            .is_none());
        assert!(catalog
            .issue_token("nobody", "correct horse", hour)
            .unwrap()
            .is_none());
        let token = catalog
            .issue_token("marie", "correct horse", hour)
            .unwrap()
            .unwrap();
        assert_eq!(
            catalog.token_user(&token.value).unwrap().unwrap().login,
            "marie"
        );
        assert!(catalog.token_user("not a token").unwrap().is_none());
        // An expired token is refused.
        let expired = catalog
            .issue_token("marie", "correct horse", Duration::ZERO)
            .unwrap()
            .unwrap();
        assert!(catalog.token_user(&expired.value).unwrap().is_none());

        catalog.set_password("marie", "battery staple").unwrap();
        assert!(catalog.token_user(&token.value).unwrap().is_none());
        assert!(catalog
            .issue_token("marie", "correct horse", hour)
            .unwrap()
            .is_none());
        let token = catalog
            .issue_token("marie", "battery staple", hour)
            .unwrap()
            .unwrap();
        assert_eq!(catalog.users().unwrap().len(), 1);
        catalog.remove_user("marie").unwrap();
        assert!(catalog.token_user(&token.value).unwrap().is_none());
        assert!(matches!(
            catalog.remove_user("marie"),
            Err(CatalogError::NotFound { .. })
        ));
    }
}
