//! Tags and comments on uploads, stored data and configurations, as the Entrepôt keeps them:
//! producers (and IGN's SDK workflows, which tag every resource they make and comment on each
//! step) find their resources again by tags, and leave notes on them.
//!
//! Tags live in the resource's own document (`tags`, a map of strings); comments are resources
//! of their own, each pointing at the resource it is about.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::db::{self, Kind};
use crate::{check_datastore, new_id, now, Catalog, CatalogError};

/// The resources that carry tags and comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Annotated {
    /// An upload.
    Upload,
    /// A stored data.
    StoredData,
    /// A configuration.
    Configuration,
}

impl Annotated {
    fn kind(self) -> Kind {
        match self {
            Annotated::Upload => Kind::Upload,
            Annotated::StoredData => Kind::StoredData,
            Annotated::Configuration => Kind::Configuration,
        }
    }
}

/// A comment on a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comment {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The text.
    pub text: String,
    /// When written (RFC 3339).
    pub creation: String,
    /// When last changed (RFC 3339).
    pub last_modification: String,
}

/// A comment as a client writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// The text.
    pub text: String,
}

/// The comment stored with the id of the resource it is about.
#[derive(Serialize, Deserialize)]
struct StoredComment {
    #[serde(flatten)]
    comment: Comment,
    about: String,
}

fn tags_of(value: &mut Json) -> Result<&mut serde_json::Map<String, Json>, CatalogError> {
    let object = value
        .as_object_mut()
        .ok_or_else(|| CatalogError::Internal("a resource document is not an object".to_owned()))?;
    let tags = object
        .entry("tags")
        .or_insert_with(|| Json::Object(serde_json::Map::new()));
    if !tags.is_object() {
        *tags = Json::Object(serde_json::Map::new());
    }
    tags.as_object_mut()
        .ok_or_else(|| CatalogError::Internal("tags are not an object".to_owned()))
}

/// A tag's value as text (numbers and booleans as written).
fn tag_text(value: &Json) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

impl Catalog {
    /// Adds (or replaces) tags of a resource; its tags after the change.
    pub fn add_tags(
        &self,
        datastore: &str,
        what: Annotated,
        id: &str,
        tags: &BTreeMap<String, Json>,
    ) -> Result<BTreeMap<String, String>, CatalogError> {
        check_datastore(datastore)?;
        for (key, value) in tags {
            if key.trim().is_empty() {
                return Err(CatalogError::Invalid(
                    "a tag has an empty name: name every tag".to_owned(),
                ));
            }
            if !(value.is_string() || value.is_number() || value.is_boolean()) {
                return Err(CatalogError::Invalid(format!(
                    "tag '{key}' has a {} value: a tag's value is a string",
                    match value {
                        Json::Null => "null",
                        Json::Array(_) => "list",
                        _ => "object",
                    }
                )));
            }
        }
        self.edit_tags(datastore, what, id, |all| {
            for (key, tag) in tags {
                all.insert(key.clone(), Json::String(tag_text(tag)));
            }
        })
    }

    /// Removes tags of a resource (unknown names are ignored); its tags after the change.
    pub fn remove_tags(
        &self,
        datastore: &str,
        what: Annotated,
        id: &str,
        keys: &[String],
    ) -> Result<BTreeMap<String, String>, CatalogError> {
        check_datastore(datastore)?;
        self.edit_tags(datastore, what, id, |all| {
            for key in keys {
                all.remove(key);
            }
        })
    }

    /// Changes the tags of a resource in its stored document; its tags after the change.
    fn edit_tags(
        &self,
        datastore: &str,
        what: Annotated,
        id: &str,
        edit: impl FnOnce(&mut serde_json::Map<String, Json>),
    ) -> Result<BTreeMap<String, String>, CatalogError> {
        self.change(false, |tx| {
            let kind = what.kind();
            let mut value: Json = db::get(tx, kind, datastore, id)?;
            let created = value["creation"].as_str().unwrap_or_default().to_owned();
            let all = tags_of(&mut value)?;
            edit(all);
            let result = all.iter().map(|(k, v)| (k.clone(), tag_text(v))).collect();
            db::put(tx, kind, datastore, id, &created, &value)?;
            Ok(result)
        })
    }

    /// The comments on a resource, oldest first.
    pub fn comments(
        &self,
        datastore: &str,
        what: Annotated,
        id: &str,
    ) -> Result<Vec<Comment>, CatalogError> {
        check_datastore(datastore)?;
        let all: Vec<StoredComment> = self.read(|sql| {
            let _: Json = db::get(sql, what.kind(), datastore, id)?;
            db::list(sql, Kind::Comment, datastore)
        })?;
        Ok(all
            .into_iter()
            .filter(|c| c.about == id)
            .map(|c| c.comment)
            .collect())
    }

    /// Writes a comment on a resource.
    pub fn add_comment(
        &self,
        datastore: &str,
        what: Annotated,
        id: &str,
        new: NewComment,
    ) -> Result<Comment, CatalogError> {
        check_datastore(datastore)?;
        let text = checked_text(new.text)?;
        self.change(false, |tx| {
            let _: Json = db::get(tx, what.kind(), datastore, id)?;
            let now = now();
            let comment = Comment {
                id: new_id(),
                text,
                creation: now.clone(),
                last_modification: now,
            };
            let stored = StoredComment {
                comment: comment.clone(),
                about: id.to_owned(),
            };
            db::put(
                tx,
                Kind::Comment,
                datastore,
                &comment.id,
                &comment.creation,
                &stored,
            )?;
            Ok(comment)
        })
    }

    /// Changes the text of a comment.
    pub fn edit_comment(
        &self,
        datastore: &str,
        what: Annotated,
        id: &str,
        comment: &str,
        new: NewComment,
    ) -> Result<Comment, CatalogError> {
        check_datastore(datastore)?;
        let text = checked_text(new.text)?;
        self.change(false, |tx| {
            let mut stored = comment_of(tx, datastore, what, id, comment)?;
            stored.comment.text = text;
            stored.comment.last_modification = now();
            db::put(
                tx,
                Kind::Comment,
                datastore,
                comment,
                &stored.comment.creation,
                &stored,
            )?;
            Ok(stored.comment)
        })
    }

    /// Deletes a comment.
    pub fn delete_comment(
        &self,
        datastore: &str,
        what: Annotated,
        id: &str,
        comment: &str,
    ) -> Result<(), CatalogError> {
        check_datastore(datastore)?;
        self.change(false, |tx| {
            comment_of(tx, datastore, what, id, comment)?;
            db::delete(tx, comment)
        })
    }
}

fn checked_text(text: String) -> Result<String, CatalogError> {
    if text.trim().is_empty() {
        return Err(CatalogError::Invalid(
            "text is empty: write the comment".to_owned(),
        ));
    }
    Ok(text)
}

/// The comment `comment` on resource `id`, or `NotFound`.
fn comment_of(
    tx: &crate::db::Sql<'_>,
    datastore: &str,
    what: Annotated,
    id: &str,
    comment: &str,
) -> Result<StoredComment, CatalogError> {
    let _: Json = db::get(tx, what.kind(), datastore, id)?;
    let stored: StoredComment = db::get(tx, Kind::Comment, datastore, comment)?;
    if stored.about == id {
        Ok(stored)
    } else {
        Err(CatalogError::NotFound {
            kind: "comment",
            id: comment.to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::{catalog, open_upload, DS};
    use crate::UploadType;

    #[test]
    fn tags_and_comments_stay_with_their_resource() {
        let catalog = catalog();
        let upload = open_upload(&catalog, UploadType::Vector, "EPSG:2154");
        let tags: BTreeMap<String, Json> =
            serde_json::from_value(serde_json::json!({"datasheet_name": "communes", "version": 2}))
                .unwrap();
        let all = catalog
            .add_tags(DS, Annotated::Upload, &upload.id, &tags)
            .unwrap();
        assert_eq!(all["version"], "2");
        // The typed resource keeps them through later changes.
        let again = catalog.upload(DS, &upload.id).unwrap();
        assert_eq!(again.tags["datasheet_name"], "communes");
        let all = catalog
            .remove_tags(DS, Annotated::Upload, &upload.id, &["version".to_owned()])
            .unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["datasheet_name"]);
        let bad: BTreeMap<String, Json> =
            serde_json::from_value(serde_json::json!({"x": [1]})).unwrap();
        assert!(matches!(
            catalog.add_tags(DS, Annotated::Upload, &upload.id, &bad),
            Err(CatalogError::Invalid(_))
        ));
        assert!(matches!(
            catalog.add_tags(DS, Annotated::StoredData, &upload.id, &tags),
            Err(CatalogError::NotFound { .. })
        ));

        let written = catalog
            .add_comment(
                DS,
                Annotated::Upload,
                &upload.id,
                NewComment {
                    text: "livraison de mars".to_owned(),
                },
            )
            .unwrap();
        let edited = catalog
            .edit_comment(
                DS,
                Annotated::Upload,
                &upload.id,
                &written.id,
                NewComment {
                    text: "livraison d'avril".to_owned(),
                },
            )
            .unwrap();
        assert_eq!(edited.text, "livraison d'avril");
        let listed = catalog.comments(DS, Annotated::Upload, &upload.id).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].text, "livraison d'avril");
        catalog
            .delete_comment(DS, Annotated::Upload, &upload.id, &written.id)
            .unwrap();
        assert!(catalog
            .comments(DS, Annotated::Upload, &upload.id)
            .unwrap()
            .is_empty());
    }
}
