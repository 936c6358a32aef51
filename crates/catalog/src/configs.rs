//! Statics (SLD styles), configurations and offerings, with the validations the seeds ask for,
//! and the publications they amount to.
//!
//! Every error says what is wrong and how to fix it: which configuration already uses a layer
//! name, which levels a pyramid has, which attributes a table has. Names written against the
//! original file (`Communes-IDF`, `NAME_1`) resolve to the stored ones (`communes_idf`,
//! `name_1`) with a warning, never a refusal.

use std::path::PathBuf;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{json, Value as Json};

use crate::db::{self, Kind};
use crate::model::{
    Attribution, Configuration, ConfigurationBody, ConfigurationStatus, ConfigurationType,
    MetadataLink, Offering, OfferingStatus, OfferingUrl, Reference, Static, StaticType, StoredData,
    StoredDataStatus, StoredDataType, UsedData,
};
use crate::{check_datastore, endpoints, event, new_id, now, Catalog, CatalogError};

static LAYER_NAME: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[A-Za-z_][A-Za-z0-9_\-.]*$").expect("valid regex"));

/// A new offering, as a client sends it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct NewOffering {
    /// Endpoint id.
    pub endpoint: String,
    /// Open to all (default) or restricted to keys.
    #[serde(default = "yes")]
    pub open: bool,
}

fn yes() -> bool {
    true
}

/// A published layer, as the server builds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    /// The offering.
    pub offering: String,
    /// The configuration.
    pub configuration: String,
    /// Layer name.
    pub layer_name: String,
    /// Configuration type.
    pub kind: ConfigurationType,
    /// Open to all, or restricted to keys granted the offering.
    pub open: bool,
    /// Title.
    pub title: String,
    /// Abstract.
    pub abstract_text: String,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Metadata links.
    pub metadata: Vec<MetadataLink>,
    /// Attribution.
    pub attribution: Option<Attribution>,
    /// The data.
    pub source: PublicationKind,
}

/// What a publication shows.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicationKind {
    /// Tables drawn with SLD styles, in drawing order.
    Vector {
        /// The tables.
        relations: Vec<PublishedRelation>,
    },
    /// Tables handed out as features (WFS), one feature type each.
    Features {
        /// The feature types.
        types: Vec<PublishedFeatureType>,
    },
    /// A pyramid.
    Pyramid {
        /// Stored data id.
        stored_data: String,
        /// Its descriptor (`pyramid.json`, a file or an object).
        descriptor: pyramid::Location,
        /// Finest level served.
        bottom_level: Option<String>,
        /// Coarsest level served.
        top_level: Option<String>,
        /// GetFeatureInfo answers pixel values.
        getfeatureinfo: bool,
        /// WMS styles (SLD files with a RasterSymbolizer).
        styles: Vec<PathBuf>,
    },
}

/// A feature type of a WFS publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedFeatureType {
    /// Stored data id.
    pub stored_data: String,
    /// Its folder.
    pub dir: PathBuf,
    /// The stored table name.
    pub table: String,
    /// The feature type's name.
    pub public_name: String,
    /// Title (empty: the name).
    pub title: String,
    /// Abstract.
    pub abstract_text: String,
    /// Keywords.
    pub keywords: Vec<String>,
}

/// A table of a vector publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedRelation {
    /// Stored data id.
    pub stored_data: String,
    /// Its folder.
    pub dir: PathBuf,
    /// The stored table name.
    pub table: String,
    /// The SLD file.
    pub style: PathBuf,
}

impl Catalog {
    /// Stores an SLD style after parsing and validating it.
    pub fn create_static(
        &self,
        datastore: &str,
        name: &str,
        kind: &str,
        description: &str,
        content: &[u8],
    ) -> Result<Static, CatalogError> {
        check_datastore(datastore)?;
        let kind = match kind {
            "GEOSERVER-STYLE" | "" => StaticType::GeoserverStyle,
            other => {
                return Err(CatalogError::Invalid(format!(
                    "type '{other}' is not a static type this server takes: use GEOSERVER-STYLE (an SLD file)"
                )))
            }
        };
        if name.trim().is_empty() {
            return Err(CatalogError::Invalid(
                "name is empty: name the style".to_owned(),
            ));
        }
        let parsed = parse_style(content)?;
        let layers: Vec<String> = parsed
            .layers
            .iter()
            .filter_map(|l| l.name.as_ref().map(|n| n.value.clone()))
            .collect();
        let warnings: Vec<String> = parsed
            .validate()
            .into_iter()
            .map(|p| p.to_string())
            .collect();
        let id = new_id();
        crate::write_atomic(&self.static_path(&id), content)?;
        let item = Static {
            id: id.clone(),
            name: name.to_owned(),
            kind,
            description: description.to_owned(),
            type_infos: json!({ "format": "SLD", "layers": layers, "warnings": warnings }),
            creation: now(),
        };
        self.change(false, |tx| {
            db::put(tx, Kind::Static, datastore, &id, &item.creation, &item)
        })?;
        Ok(item)
    }

    /// A static.
    pub fn static_file_info(&self, datastore: &str, id: &str) -> Result<Static, CatalogError> {
        self.resource(Kind::Static, datastore, id)
    }

    /// Every static.
    pub fn statics(&self, datastore: &str) -> Result<Vec<Static>, CatalogError> {
        self.resources(Kind::Static, datastore)
    }

    /// A static's content.
    pub fn static_content(&self, datastore: &str, id: &str) -> Result<Vec<u8>, CatalogError> {
        self.static_file_info(datastore, id)?;
        let path = self.static_path(id);
        std::fs::read(&path).map_err(|e| CatalogError::io(&path, e))
    }

    /// Deletes a static no configuration uses.
    pub fn delete_static(&self, datastore: &str, id: &str) -> Result<(), CatalogError> {
        self.change(false, |tx| {
            let _: Static = db::get(tx, Kind::Static, datastore, id)?;
            let configurations: Vec<Configuration> = db::list(tx, Kind::Configuration, datastore)?;
            if let Some(user) = configurations.iter().find(|c| uses_static(&c.body, id)) {
                return Err(CatalogError::Conflict(format!(
                    "static '{id}' is the style of configuration '{}' (layer '{}'): change or delete that configuration first",
                    user.id, user.body.layer_name
                )));
            }
            db::delete(tx, id)
        })?;
        let _ = std::fs::remove_file(self.static_path(id));
        Ok(())
    }

    /// Creates a configuration (UNPUBLISHED) after validating it.
    pub fn create_configuration(
        &self,
        datastore: &str,
        body: ConfigurationBody,
    ) -> Result<Configuration, CatalogError> {
        check_datastore(datastore)?;
        self.change(false, |tx| {
            let warnings = self.validate(tx, datastore, &body, None)?;
            let configuration = Configuration {
                id: new_id(),
                status: ConfigurationStatus::Unpublished,
                body,
                warnings,
                tags: std::collections::BTreeMap::new(),
                creation: now(),
                last_event: event("created"),
            };
            db::put(
                tx,
                Kind::Configuration,
                datastore,
                &configuration.id,
                &configuration.creation,
                &configuration,
            )?;
            Ok(configuration)
        })
    }

    /// A configuration.
    pub fn configuration(&self, datastore: &str, id: &str) -> Result<Configuration, CatalogError> {
        self.resource(Kind::Configuration, datastore, id)
    }

    /// Every configuration.
    pub fn configurations(&self, datastore: &str) -> Result<Vec<Configuration>, CatalogError> {
        self.resources(Kind::Configuration, datastore)
    }

    /// Replaces a configuration; a published one changes live (its type cannot change).
    pub fn replace_configuration(
        &self,
        datastore: &str,
        id: &str,
        body: ConfigurationBody,
    ) -> Result<Configuration, CatalogError> {
        check_datastore(datastore)?;
        let current = self.configuration(datastore, id)?;
        let published = current.status == ConfigurationStatus::Published;
        self.change(published, |tx| {
            let mut configuration: Configuration = db::get(tx, Kind::Configuration, datastore, id)?;
            if configuration.body.kind != body.kind {
                return Err(CatalogError::Invalid(format!(
                    "configuration '{id}' is {}: its type cannot become {}; create a new configuration",
                    configuration.body.kind.as_str(),
                    body.kind.as_str()
                )));
            }
            configuration.warnings = self.validate(tx, datastore, &body, Some(id))?;
            let renamed = configuration.body.layer_name != body.layer_name;
            configuration.body = body;
            configuration.last_event = event("modified");
            db::put(tx, Kind::Configuration, datastore, id, &configuration.creation, &configuration)?;
            if renamed {
                let offerings: Vec<Offering> = db::list(tx, Kind::Offering, datastore)?;
                for mut offering in offerings.into_iter().filter(|o| o.configuration.id == id) {
                    offering.layer_name.clone_from(&configuration.body.layer_name);
                    offering.configuration.name.clone_from(&configuration.body.name);
                    offering.urls = offering_urls(offering.kind, &offering.layer_name);
                    db::put(tx, Kind::Offering, datastore, &offering.id, &offering.creation, &offering)?;
                }
            }
            Ok(configuration)
        })
    }

    /// Deletes an unpublished configuration.
    pub fn delete_configuration(&self, datastore: &str, id: &str) -> Result<(), CatalogError> {
        self.change(false, |tx| {
            let _: Configuration = db::get(tx, Kind::Configuration, datastore, id)?;
            let offerings: Vec<Offering> = db::list(tx, Kind::Offering, datastore)?;
            let (published, unpublished): (Vec<&Offering>, Vec<&Offering>) = offerings
                .iter()
                .filter(|o| o.configuration.id == id)
                .partition(|o| o.status == OfferingStatus::Published);
            if let Some(offering) = published.first() {
                return Err(CatalogError::Conflict(format!(
                    "configuration '{id}' is published by offering '{}': delete the offering first",
                    offering.id
                )));
            }
            // Its unpublished offerings go with it.
            for offering in unpublished {
                db::delete(tx, &offering.id)?;
            }
            db::delete(tx, id)
        })
    }

    /// Publishes a configuration on an endpoint. Idempotent: when the configuration is already
    /// offered there, that offering is returned (with `false`) and nothing changes, except
    /// `open`, which is set as asked.
    pub fn create_offering(
        &self,
        datastore: &str,
        configuration: &str,
        new: &NewOffering,
    ) -> Result<(Offering, bool), CatalogError> {
        check_datastore(datastore)?;
        self.change(true, |tx| {
            let mut config: Configuration = db::get(tx, Kind::Configuration, datastore, configuration)?;
            let endpoint = endpoints().into_iter().find(|e| e.id == new.endpoint).ok_or_else(|| {
                let ids: Vec<String> = endpoints().iter().map(|e| format!("{} ({})", e.id, e.kind.as_str())).collect();
                CatalogError::Invalid(format!(
                    "endpoint '{}' does not exist: use one of {} (GET /api/datastores/{datastore} lists them)",
                    new.endpoint,
                    ids.join(", ")
                ))
            })?;
            if endpoint.kind != config.body.kind {
                let fitting = endpoints().into_iter().find(|e| e.kind == config.body.kind).map(|e| e.id).unwrap_or_default();
                return Err(CatalogError::Invalid(format!(
                    "endpoint '{}' serves {} configurations; configuration '{configuration}' is {}: publish it on endpoint '{fitting}'",
                    endpoint.id,
                    endpoint.kind.as_str(),
                    config.body.kind.as_str()
                )));
            }
            let offerings: Vec<Offering> = db::list(tx, Kind::Offering, datastore)?;
            let existing = offerings
                .into_iter()
                .find(|o| o.configuration.id == configuration && o.endpoint.id == endpoint.id);
            if let Some(mut live) = existing
                .clone()
                .filter(|o| o.status == OfferingStatus::Published)
            {
                live.open = new.open;
                db::put(tx, Kind::Offering, datastore, &live.id, &live.creation, &live)?;
                return Ok((live, false));
            }
            // Validate again: the stored data or styles may have changed since.
            config.warnings = self.validate(tx, datastore, &config.body, Some(configuration))?;
            config.status = ConfigurationStatus::Published;
            config.last_event = event("published");
            db::put(tx, Kind::Configuration, datastore, configuration, &config.creation, &config)?;
            if let Some(mut unpublished) = existing {
                // Unpublished by a first DELETE: published again, under the same id.
                unpublished.open = new.open;
                unpublished.status = OfferingStatus::Published;
                unpublished.available = true;
                unpublished.layer_name.clone_from(&config.body.layer_name);
                unpublished.urls = offering_urls(config.body.kind, &config.body.layer_name);
                db::put(tx, Kind::Offering, datastore, &unpublished.id, &unpublished.creation, &unpublished)?;
                return Ok((unpublished, true));
            }
            let offering = Offering {
                id: new_id(),
                layer_name: config.body.layer_name.clone(),
                kind: config.body.kind,
                status: OfferingStatus::Published,
                open: new.open,
                available: true,
                endpoint: Reference {
                    id: endpoint.id.clone(),
                    name: endpoint.name.clone(),
                },
                configuration: Reference {
                    id: config.id.clone(),
                    name: config.body.name.clone(),
                },
                urls: offering_urls(config.body.kind, &config.body.layer_name),
                creation: now(),
            };
            db::put(tx, Kind::Offering, datastore, &offering.id, &offering.creation, &offering)?;
            Ok((offering, true))
        })
    }

    /// An offering.
    pub fn offering(&self, datastore: &str, id: &str) -> Result<Offering, CatalogError> {
        self.resource(Kind::Offering, datastore, id)
    }

    /// Every offering.
    pub fn offerings(&self, datastore: &str) -> Result<Vec<Offering>, CatalogError> {
        self.resources(Kind::Offering, datastore)
    }

    /// Opens or restricts an offering.
    pub fn set_offering_open(
        &self,
        datastore: &str,
        id: &str,
        open: bool,
    ) -> Result<Offering, CatalogError> {
        self.change(true, |tx| {
            let mut offering: Offering = db::get(tx, Kind::Offering, datastore, id)?;
            offering.open = open;
            save_offering(tx, datastore, &offering)?;
            Ok(offering)
        })
    }

    /// Unpublishes: the layer disappears from the services.
    pub fn delete_offering(&self, datastore: &str, id: &str) -> Result<(), CatalogError> {
        self.change(true, |tx| {
            let mut offering: Offering = db::get(tx, Kind::Offering, datastore, id)?;
            if offering.status == OfferingStatus::Unpublished {
                return db::delete(tx, id);
            }
            // As the Entrepôt: a first DELETE unpublishes (the offering stays readable, which
            // IGN's SDK waits for), a second removes it.
            offering.status = OfferingStatus::Unpublished;
            offering.available = false;
            save_offering(tx, datastore, &offering)?;
            let offerings: Vec<Offering> = db::list(tx, Kind::Offering, datastore)?;
            if !offerings.iter().any(|o| {
                o.configuration.id == offering.configuration.id
                    && o.status == OfferingStatus::Published
            }) {
                if let Ok(mut config) = db::get::<Configuration>(
                    tx,
                    Kind::Configuration,
                    datastore,
                    &offering.configuration.id,
                ) {
                    config.status = ConfigurationStatus::Unpublished;
                    config.last_event = event("unpublished");
                    db::put(
                        tx,
                        Kind::Configuration,
                        datastore,
                        &config.id,
                        &config.creation,
                        &config,
                    )?;
                }
            }
            Ok(())
        })
    }

    /// Validates a configuration; returns its warnings.
    fn validate(
        &self,
        tx: &crate::db::Sql<'_>,
        datastore: &str,
        body: &ConfigurationBody,
        this: Option<&str>,
    ) -> Result<Vec<String>, CatalogError> {
        let invalid = |m: String| Err(CatalogError::Invalid(m));
        let name = &body.layer_name;
        if !LAYER_NAME.is_match(name) {
            return invalid(format!(
                "layer_name '{name}' is not allowed: start with a letter or '_', then letters, digits, '_', '-' or '.' (e.g. {})",
                suggest_layer_name(name)
            ));
        }
        if body.name.trim().is_empty() {
            return invalid("name is empty: name the configuration".to_owned());
        }
        if body.kind != ConfigurationType::Wfs && body.type_infos.title.trim().is_empty() {
            return invalid("type_infos.title is empty: give the layer a title".to_owned());
        }
        let others: Vec<Configuration> = db::list(tx, Kind::Configuration, datastore)?;
        let others: Vec<&Configuration> = others
            .iter()
            .filter(|c| Some(c.id.as_str()) != this)
            .collect();
        if let Some(same) = others
            .iter()
            .find(|c| c.body.kind == body.kind && c.body.layer_name == *name)
        {
            return invalid(format!(
                "layer_name '{name}' is already used by configuration {} ({}) — choose another",
                same.id,
                body.kind.as_str()
            ));
        }
        // A WFS configuration's layer_name is not served (its relations' public names are).
        let served = |c: &ConfigurationBody| c.kind != ConfigurationType::Wfs;
        if let Some(clash) = others.iter().find(|c| {
            c.body.layer_name == *name
                && !shares_pyramid(&c.body, body)
                && served(&c.body)
                && served(body)
        }) {
            return invalid(format!(
                "layer_name '{name}' is already used by configuration {} ({}), and both would be served under that name — choose another",
                clash.id,
                clash.body.kind.as_str()
            ));
        }
        for link in &body.metadata {
            if !(link.url.starts_with("http://") || link.url.starts_with("https://")) {
                return invalid(format!("metadata url '{}' is not an http(s) URL", link.url));
            }
        }
        let used = &body.type_infos.used_data;
        if used.is_empty() {
            return invalid(
                "type_infos.used_data is empty: name the stored data to publish".to_owned(),
            );
        }
        match body.kind {
            ConfigurationType::WmsVector => {
                if body.stored_data_info() {
                    return invalid("getfeatureinfo.stored_data is for pyramids; WMS-VECTOR layers answer GetFeatureInfo with their features".to_owned());
                }
                let mut warnings = Vec::new();
                for data in used {
                    warnings.extend(self.validate_vector(tx, datastore, data)?);
                }
                Ok(warnings)
            }
            ConfigurationType::Wfs => {
                if body.stored_data_info() || body.type_infos.styles.is_some() {
                    return invalid("getfeatureinfo and styles are not for WFS configurations: a WFS hands out the features themselves".to_owned());
                }
                let mut public_names = Vec::new();
                for data in used {
                    self.validate_features(tx, datastore, data, &mut public_names)?;
                }
                for other in others
                    .iter()
                    .filter(|c| c.body.kind == ConfigurationType::Wfs)
                {
                    for taken in self.public_names(&other.body) {
                        if public_names.contains(&taken) {
                            return invalid(format!(
                                "public_name '{taken}' is already a feature type of configuration {} — choose another",
                                other.id
                            ));
                        }
                    }
                }
                Ok(Vec::new())
            }
            ConfigurationType::WmsRaster | ConfigurationType::WmtsTms => {
                let [data] = used.as_slice() else {
                    return invalid(format!(
                        "a {} configuration publishes one pyramid: give one used_data",
                        body.kind.as_str()
                    ));
                };
                Self::validate_pyramid(tx, datastore, data, body.kind)?;
                for style in body.type_infos.styles.iter().flatten() {
                    if body.kind != ConfigurationType::WmsRaster {
                        return invalid(
                            "type_infos.styles is for WMS-RASTER configurations".to_owned(),
                        );
                    }
                    let _: Static = db::get(tx, Kind::Static, datastore, style)?;
                    let parsed = parse_style(
                        &std::fs::read(self.static_path(style))
                            .map_err(|e| CatalogError::io(&self.static_path(style), e))?,
                    )?;
                    let raster = parsed
                        .layers
                        .iter()
                        .flat_map(|l| &l.styles)
                        .flat_map(|s| &s.feature_type_styles)
                        .flat_map(|f| &f.rules)
                        .flat_map(|r| &r.symbolizers)
                        .any(|s| matches!(s, sld::Symbolizer::Raster(_)));
                    if !raster {
                        return invalid(format!("static '{style}' has no RasterSymbolizer: a pyramid is styled with one (ColorMap, Opacity)"));
                    }
                }
                Ok(Vec::new())
            }
        }
    }

    fn validate_vector(
        &self,
        tx: &crate::db::Sql<'_>,
        datastore: &str,
        data: &UsedData,
    ) -> Result<Vec<String>, CatalogError> {
        let stored = generated(
            tx,
            datastore,
            &data.stored_data,
            &[StoredDataType::VectorDb],
        )?;
        if data.relations.is_empty() {
            return Err(CatalogError::Invalid(format!(
                "used_data for stored data '{}' lists no relation: name the tables to draw, each with its style",
                stored.id
            )));
        }
        let metadata = self.vector_metadata(&stored.id)?;
        let mut warnings = Vec::new();
        for relation in &data.relations {
            let layer = find_table(&metadata, &relation.name).ok_or_else(|| {
                let tables: Vec<&str> = metadata.layers.iter().map(|l| l.name.as_str()).collect();
                CatalogError::Invalid(format!(
                    "relation '{}' is not a table of stored data '{}' (its tables: {})",
                    relation.name,
                    stored.id,
                    tables.join(", ")
                ))
            })?;
            if layer.name != relation.name {
                warnings.push(format!(
                    "relation '{}' is the stored table '{}' (names are normalised at integration)",
                    relation.name, layer.name
                ));
            }
            let _: Static = db::get(tx, Kind::Static, datastore, &relation.style).map_err(|_| {
                CatalogError::Invalid(format!(
                    "style '{}' of relation '{}' is not a static of this datastore: upload the SLD with POST …/statics and use its _id",
                    relation.style, relation.name
                ))
            })?;
            let path = self.static_path(&relation.style);
            let parsed =
                parse_style(&std::fs::read(&path).map_err(|e| CatalogError::io(&path, e))?)?;
            let mut problems = parsed.check_layer(&layer.name);
            if problems.iter().any(sld::Problem::is_error) {
                // Also accept the table's original name (as the producer saw it in the file).
                let original = parsed.check_layer(&layer.source_name);
                if !original.iter().any(sld::Problem::is_error) {
                    problems = original;
                }
            }
            let mut known: Vec<&str> = layer.attributes.iter().map(|a| a.name.as_str()).collect();
            known.extend(layer.attributes.iter().map(|a| a.source_name.as_str()));
            problems.extend(parsed.check_attributes(&known));
            let errors: Vec<String> = problems
                .iter()
                .filter(|p| p.is_error())
                .map(ToString::to_string)
                .collect();
            if !errors.is_empty() {
                let names: Vec<String> = parsed
                    .layers
                    .iter()
                    .filter_map(|l| l.name.as_ref())
                    .map(|n| format!("'{}'", n.value))
                    .collect();
                let attributes: Vec<&str> =
                    layer.attributes.iter().map(|a| a.name.as_str()).collect();
                return Err(CatalogError::Invalid(format!(
                    "style '{}' does not fit table '{}' (NamedLayer {}; table attributes: {}): {}",
                    relation.style,
                    layer.name,
                    if names.is_empty() {
                        "unnamed".to_owned()
                    } else {
                        names.join(", ")
                    },
                    attributes.join(", "),
                    errors.join("; ")
                )));
            }
            warnings.extend(
                problems
                    .iter()
                    .map(|p| format!("style '{}': {p}", relation.style)),
            );
        }
        Ok(warnings)
    }

    /// A WFS configuration's `used_data`: each relation a table of the stored data, with a
    /// public name that is a valid and unique feature type name (collected in `names`).
    fn validate_features(
        &self,
        tx: &crate::db::Sql<'_>,
        datastore: &str,
        data: &UsedData,
        names: &mut Vec<String>,
    ) -> Result<(), CatalogError> {
        let stored = generated(
            tx,
            datastore,
            &data.stored_data,
            &[StoredDataType::VectorDb],
        )?;
        if data.relations.is_empty() {
            return Err(CatalogError::Invalid(format!(
                "used_data for stored data '{}' lists no relation: name the tables to serve, each with native_name and public_name",
                stored.id
            )));
        }
        let metadata = self.vector_metadata(&stored.id)?;
        for relation in &data.relations {
            let tables = || {
                metadata
                    .layers
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let Some(native) = relation.native_name.as_deref() else {
                return Err(CatalogError::Invalid(format!(
                    "a relation of stored data '{}' has no native_name: name the table (its tables: {})",
                    stored.id,
                    tables()
                )));
            };
            let layer = find_table(&metadata, native).ok_or_else(|| {
                CatalogError::Invalid(format!(
                    "native_name '{native}' is not a table of stored data '{}' (its tables: {})",
                    stored.id,
                    tables()
                ))
            })?;
            let public = relation
                .public_name
                .clone()
                .unwrap_or_else(|| layer.name.clone());
            if !LAYER_NAME.is_match(&public) {
                return Err(CatalogError::Invalid(format!(
                    "public_name '{public}' is not allowed: start with a letter or '_', then letters, digits, '_', '-' or '.' (e.g. {})",
                    suggest_layer_name(&public)
                )));
            }
            if names.contains(&public) {
                return Err(CatalogError::Invalid(format!(
                    "public_name '{public}' is given twice: each feature type needs its own name"
                )));
            }
            names.push(public);
        }
        Ok(())
    }

    /// The feature type names a WFS configuration serves.
    fn public_names(&self, body: &ConfigurationBody) -> Vec<String> {
        body.type_infos
            .used_data
            .iter()
            .flat_map(|data| {
                let metadata = self.vector_metadata(&data.stored_data).ok();
                data.relations
                    .iter()
                    .map(move |r| public_name(r, metadata.as_ref()))
            })
            .collect()
    }

    fn validate_pyramid(
        tx: &crate::db::Sql<'_>,
        datastore: &str,
        data: &UsedData,
        kind: ConfigurationType,
    ) -> Result<(), CatalogError> {
        // A vector pyramid is vector tiles: WMTS-TMS only (WMS has no pixels to draw from it).
        let accepted: &[StoredDataType] = if kind == ConfigurationType::WmtsTms {
            &[StoredDataType::PyramidRaster, StoredDataType::PyramidVector]
        } else {
            &[StoredDataType::PyramidRaster]
        };
        let stored = generated(tx, datastore, &data.stored_data, accepted)?;
        if !data.relations.is_empty() {
            return Err(CatalogError::Invalid(
                "relations are for WMS-VECTOR configurations; a pyramid is published by its levels"
                    .to_owned(),
            ));
        }
        let levels: Vec<String> = stored
            .type_infos
            .get("levels")
            .and_then(Json::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let position =
            |which: &str, level: &Option<String>| -> Result<Option<usize>, CatalogError> {
                let Some(level) = level else { return Ok(None) };
                levels
                    .iter()
                    .position(|l| l == level)
                    .map(Some)
                    .ok_or_else(|| {
                        CatalogError::Invalid(format!(
                            "{which} {level} is not in stored data {}, which has levels {} to {}",
                            stored.id,
                            levels.first().map_or("?", String::as_str),
                            levels.last().map_or("?", String::as_str)
                        ))
                    })
            };
        let top = position("level", &data.top_level)?;
        let bottom = position("level", &data.bottom_level)?;
        if let (Some(top), Some(bottom)) = (top, bottom) {
            if top > bottom {
                return Err(CatalogError::Invalid(format!(
                    "top_level {} is finer than bottom_level {}: the top is the coarsest level",
                    levels[top], levels[bottom]
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn vector_metadata(
        &self,
        stored: &str,
    ) -> Result<vectorstore::StoredMetadata, CatalogError> {
        let path = self.stored_dir(stored).join(vectorstore::METADATA_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| CatalogError::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| CatalogError::Internal(format!("{}: {e}", path.display())))
    }
}

fn save_offering(
    tx: &crate::db::Sql<'_>,
    datastore: &str,
    offering: &Offering,
) -> Result<(), CatalogError> {
    db::put(
        tx,
        Kind::Offering,
        datastore,
        &offering.id,
        &offering.creation,
        offering,
    )
}

/// Every live publication, in offering order.
pub(crate) fn publications(
    tx: &crate::db::Sql<'_>,
    data_dir: &std::path::Path,
) -> Result<Vec<Publication>, CatalogError> {
    let offerings: Vec<(String, Offering)> = db::list_all(tx, Kind::Offering)?;
    let mut found = Vec::with_capacity(offerings.len());
    for (datastore, offering) in offerings {
        if offering.status != OfferingStatus::Published {
            continue;
        }
        let config: Configuration = db::get(
            tx,
            Kind::Configuration,
            &datastore,
            &offering.configuration.id,
        )?;
        let stored_dir = |id: &str| data_dir.join("stored").join(id);
        let static_path = |id: &str| data_dir.join("statics").join(format!("{id}.sld"));
        let source = match config.body.kind {
            ConfigurationType::WmsVector => {
                let mut relations = Vec::new();
                for data in &config.body.type_infos.used_data {
                    let dir = stored_dir(&data.stored_data);
                    let metadata = read_metadata(&dir);
                    for relation in &data.relations {
                        let table = stored_table(metadata.as_ref(), &relation.name);
                        relations.push(PublishedRelation {
                            stored_data: data.stored_data.clone(),
                            dir: dir.clone(),
                            table,
                            style: static_path(&relation.style),
                        });
                    }
                }
                PublicationKind::Vector { relations }
            }
            ConfigurationType::Wfs => {
                let mut types = Vec::new();
                for data in &config.body.type_infos.used_data {
                    let dir = stored_dir(&data.stored_data);
                    let metadata = read_metadata(&dir);
                    for relation in &data.relations {
                        let table = stored_table(
                            metadata.as_ref(),
                            relation.native_name.as_deref().unwrap_or_default(),
                        );
                        types.push(PublishedFeatureType {
                            stored_data: data.stored_data.clone(),
                            dir: dir.clone(),
                            public_name: relation
                                .public_name
                                .clone()
                                .unwrap_or_else(|| table.clone()),
                            table,
                            title: relation.title.clone().unwrap_or_default(),
                            abstract_text: relation.abstract_text.clone().unwrap_or_default(),
                            keywords: relation.keywords.clone(),
                        });
                    }
                }
                PublicationKind::Features { types }
            }
            ConfigurationType::WmsRaster | ConfigurationType::WmtsTms => {
                let data = config.body.type_infos.used_data.first().ok_or_else(|| {
                    CatalogError::Internal(format!("configuration {} has no used_data", config.id))
                })?;
                let stored: StoredData =
                    db::get(tx, Kind::StoredData, &datastore, &data.stored_data)?;
                PublicationKind::Pyramid {
                    stored_data: data.stored_data.clone(),
                    descriptor: crate::pyramid_root(data_dir, &stored)?
                        .join(&format!("{}.json", pyramid::PYRAMID_NAME)),
                    bottom_level: data.bottom_level.clone(),
                    top_level: data.top_level.clone(),
                    getfeatureinfo: config.body.stored_data_info(),
                    styles: config
                        .body
                        .type_infos
                        .styles
                        .iter()
                        .flatten()
                        .map(|s| static_path(s))
                        .collect(),
                }
            }
        };
        found.push(Publication {
            offering: offering.id,
            configuration: config.id,
            layer_name: config.body.layer_name,
            kind: config.body.kind,
            open: offering.open,
            title: config.body.type_infos.title,
            abstract_text: config.body.type_infos.abstract_text,
            keywords: config.body.type_infos.keywords,
            metadata: config.body.metadata,
            attribution: config.body.attribution,
            source,
        });
    }
    Ok(found)
}

fn offering_urls(kind: ConfigurationType, layer: &str) -> Vec<OfferingUrl> {
    let url = |k: &str, u: String| OfferingUrl {
        kind: k.to_owned(),
        url: u,
    };
    match kind {
        ConfigurationType::WmsVector | ConfigurationType::WmsRaster => {
            vec![url(
                "WMS",
                format!("/wms?SERVICE=WMS&REQUEST=GetCapabilities&LAYERS={layer}"),
            )]
        }
        ConfigurationType::Wfs => vec![url(
            "WFS",
            "/wfs?SERVICE=WFS&REQUEST=GetCapabilities".to_owned(),
        )],
        ConfigurationType::WmtsTms => vec![
            url(
                "WMTS",
                "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities".to_owned(),
            ),
            url("TMS", format!("/tms/1.0.0/{layer}")),
        ],
    }
}

/// A WFS relation's feature type name: its `public_name`, else its stored table's name.
fn public_name(
    relation: &crate::Relation,
    metadata: Option<&vectorstore::StoredMetadata>,
) -> String {
    relation.public_name.clone().unwrap_or_else(|| {
        stored_table(
            metadata,
            relation.native_name.as_deref().unwrap_or_default(),
        )
    })
}

/// The stored name of a table named as the producer wrote it (`name` itself when the stored
/// data does not know it).
fn stored_table(metadata: Option<&vectorstore::StoredMetadata>, name: &str) -> String {
    metadata
        .and_then(|m| find_table(m, name))
        .map_or_else(|| name.to_owned(), |l| l.name.clone())
}

/// The `metadata.json` of a stored data folder, when it can be read.
fn read_metadata(dir: &std::path::Path) -> Option<vectorstore::StoredMetadata> {
    std::fs::read_to_string(dir.join(vectorstore::METADATA_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}

fn uses_static(body: &ConfigurationBody, id: &str) -> bool {
    body.type_infos
        .used_data
        .iter()
        .flat_map(|u| &u.relations)
        .any(|r| r.style == id)
        || body.type_infos.styles.iter().flatten().any(|s| s == id)
}

/// Whether two configurations may share a layer name: both pyramids over the same stored data
/// (a WMS-RASTER and a WMTS-TMS of one pyramid are one layer, served by both).
fn shares_pyramid(a: &ConfigurationBody, b: &ConfigurationBody) -> bool {
    let pyramid = |c: &ConfigurationBody| {
        matches!(
            c.kind,
            ConfigurationType::WmsRaster | ConfigurationType::WmtsTms
        )
    };
    pyramid(a)
        && pyramid(b)
        && a.type_infos.used_data.first().map(|u| &u.stored_data)
            == b.type_infos.used_data.first().map(|u| &u.stored_data)
}

fn generated(
    tx: &crate::db::Sql<'_>,
    datastore: &str,
    id: &str,
    kinds: &[StoredDataType],
) -> Result<StoredData, CatalogError> {
    let stored: StoredData = db::get(tx, Kind::StoredData, datastore, id).map_err(|e| match e {
        CatalogError::NotFound { .. } => CatalogError::Invalid(format!(
            "stored data '{id}' does not exist (GET …/stored_data lists them)"
        )),
        other => other,
    })?;
    if !kinds.contains(&stored.kind) {
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        return Err(CatalogError::Invalid(format!(
            "stored data '{id}' is {}; this configuration publishes {}",
            stored.kind.as_str(),
            names.join(" or ")
        )));
    }
    if stored.status != StoredDataStatus::Generated {
        return Err(CatalogError::Conflict(format!(
            "stored data '{id}' is {:?}: only GENERATED stored data can be published{}",
            stored.status,
            if stored.status == StoredDataStatus::Generating {
                "; wait for its processing to end"
            } else {
                "; read its processing's logs"
            }
        )));
    }
    Ok(stored)
}

/// A table by stored name, original name, or normalised name.
fn find_table<'a>(
    metadata: &'a vectorstore::StoredMetadata,
    name: &str,
) -> Option<&'a vectorstore::LayerMetadata> {
    metadata
        .layers
        .iter()
        .find(|l| l.name == name)
        .or_else(|| metadata.layers.iter().find(|l| l.source_name == name))
        .or_else(|| {
            let normalised = vectorstore::normalize_name(name);
            metadata.layers.iter().find(|l| l.name == normalised)
        })
}

fn parse_style(content: &[u8]) -> Result<sld::Sld, CatalogError> {
    let parsed = sld::parse_bytes(content).map_err(|e| {
        let problem = e.to_problem();
        CatalogError::Invalid(format!("the SLD cannot be read: {problem}"))
    })?;
    let errors: Vec<String> = parsed
        .validate()
        .into_iter()
        .filter(sld::Problem::is_error)
        .map(|p| p.to_string())
        .collect();
    if !errors.is_empty() {
        return Err(CatalogError::Invalid(format!(
            "the SLD is invalid: {}",
            errors.join("; ")
        )));
    }
    Ok(parsed)
}

fn suggest_layer_name(name: &str) -> String {
    let mut suggestion: String = vectorstore::normalize_name(name)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect();
    if suggestion
        .chars()
        .next()
        .is_none_or(|c| c.is_ascii_digit() || c == '-' || c == '.')
    {
        suggestion.insert(0, '_');
    }
    format!("'{suggestion}'")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{ConfigurationStatus, StoredDataStatus};
    use crate::testing::{
        body, catalog, communes_sld, communes_stored, communes_upload, conflict, fixture, invalid,
        new_execution, not_found, publisher, pyramid_config, rgb_pyramid, style, wms_vector, DS,
    };

    fn offer(catalog: &Catalog, configuration: &str, endpoint: &str) -> Offering {
        let (offering, created) = catalog
            .create_offering(
                DS,
                configuration,
                &NewOffering {
                    endpoint: endpoint.to_owned(),
                    open: true,
                },
            )
            .unwrap();
        assert!(created);
        offering
    }

    fn endpoint(endpoint: &str) -> NewOffering {
        NewOffering {
            endpoint: endpoint.to_owned(),
            open: true,
        }
    }

    #[test]
    fn a_static_is_parsed_at_upload_and_keeps_its_named_layers_and_content() {
        let catalog = catalog();
        let sld = communes_sld();
        let item = catalog
            .create_static(
                DS,
                "communes",
                "GEOSERVER-STYLE",
                "by département",
                sld.as_bytes(),
            )
            .unwrap();
        assert_eq!(item.kind, StaticType::GeoserverStyle);
        assert_eq!(item.type_infos["format"], "SLD");
        assert_eq!(item.type_infos["layers"], json!(["communes_idf"]));
        assert_eq!(catalog.static_file_info(DS, &item.id).unwrap(), item);
        assert_eq!(
            catalog.static_content(DS, &item.id).unwrap(),
            sld.as_bytes()
        );
        assert_eq!(catalog.statics(DS).unwrap().len(), 1);
        // An empty type is taken as GEOSERVER-STYLE.
        let untyped = catalog
            .create_static(
                DS,
                "dem",
                "",
                "",
                &std::fs::read(fixture("wms/dem.sld")).unwrap(),
            )
            .unwrap();
        assert_eq!(untyped.kind, StaticType::GeoserverStyle);
        assert_eq!(untyped.type_infos["layers"], json!(["dem"]));
    }

    #[test]
    fn a_broken_or_mistyped_static_is_refused_and_nothing_is_stored() {
        let catalog = catalog();
        let message = invalid(catalog.create_static(
            DS,
            "x",
            "GEOSERVER-STYLE",
            "",
            b"<StyledLayerDescriptor><NamedLayer>",
        ));
        assert!(message.starts_with("the SLD cannot be read: "), "{message}");
        let not_sld = std::fs::read(fixture("sld/broken/not_an_sld.sld")).unwrap();
        invalid(catalog.create_static(DS, "x", "GEOSERVER-STYLE", "", &not_sld));
        let message =
            invalid(catalog.create_static(DS, "x", "MAPBOX-STYLE", "", communes_sld().as_bytes()));
        assert!(
            message.contains("use GEOSERVER-STYLE (an SLD file)"),
            "{message}"
        );
        let message = invalid(catalog.create_static(
            DS,
            " ",
            "GEOSERVER-STYLE",
            "",
            communes_sld().as_bytes(),
        ));
        assert!(message.contains("name the style"), "{message}");
        assert!(catalog.statics(DS).unwrap().is_empty());
        let files = std::fs::read_dir(catalog.options().data_dir.join("statics"))
            .unwrap()
            .count();
        assert_eq!(files, 0);
        assert_eq!(
            not_found(catalog.static_content(DS, "nope")),
            ("static", "nope".to_owned())
        );
    }

    #[test]
    fn a_wms_vector_configuration_is_created_unpublished_once_its_tables_and_styles_fit() {
        let catalog = catalog();
        let stored = communes_stored(&catalog);
        let communes = style(&catalog, &communes_sld());
        let configuration = catalog
            .create_configuration(
                DS,
                wms_vector("communes", &stored.id, "communes_idf", &communes),
            )
            .unwrap();
        assert_eq!(configuration.status, ConfigurationStatus::Unpublished);
        assert!(
            configuration.warnings.is_empty(),
            "{:?}",
            configuration.warnings
        );
        assert_eq!(
            catalog.configuration(DS, &configuration.id).unwrap(),
            configuration
        );

        // Names written against the original file resolve to the stored ones, with a warning.
        let original = style(
            &catalog,
            &communes_sld().replace(
                "<se:Name>communes_idf</se:Name>",
                "<se:Name>Communes-IDF</se:Name>",
            ),
        );
        let configuration = catalog
            .create_configuration(
                DS,
                wms_vector("communes_original", &stored.id, "Communes-IDF", &original),
            )
            .unwrap();
        assert!(
            configuration
                .warnings
                .iter()
                .any(|w| w.contains("relation 'Communes-IDF' is the stored table 'communes_idf'")),
            "{:?}",
            configuration.warnings
        );
    }

    #[test]
    fn a_wms_vector_configuration_whose_tables_or_styles_do_not_fit_is_refused_saying_what_fits() {
        let catalog = catalog();
        let stored = communes_stored(&catalog);
        let sld = communes_sld();
        let good = style(&catalog, &sld);
        let refused = |body: ConfigurationBody| invalid(catalog.create_configuration(DS, body));

        let message = refused(wms_vector("communes", &stored.id, "parcelles", &good));
        assert!(
            message.contains("relation 'parcelles' is not a table of stored data")
                && message.contains("communes_idf")
                && message.contains("ecoles"),
            "{message}"
        );
        let message = refused(wms_vector(
            "communes",
            &stored.id,
            "communes_idf",
            "no-such-style",
        ));
        assert!(
            message.contains("upload the SLD with POST …/statics and use its _id"),
            "{message}"
        );
        let other_layer = style(
            &catalog,
            &sld.replace(
                "<se:Name>communes_idf</se:Name>",
                "<se:Name>parcelles</se:Name>",
            ),
        );
        let message = refused(wms_vector(
            "communes",
            &stored.id,
            "communes_idf",
            &other_layer,
        ));
        assert!(
            message.contains(&format!(
                "style '{other_layer}' does not fit table 'communes_idf' (NamedLayer 'parcelles'"
            )),
            "{message}"
        );
        let bad_property = style(
            &catalog,
            &sld.replace(
                "<ogc:PropertyName>departement</ogc:PropertyName>",
                "<ogc:PropertyName>dept</ogc:PropertyName>",
            ),
        );
        let message = refused(wms_vector(
            "communes",
            &stored.id,
            "communes_idf",
            &bad_property,
        ));
        assert!(
            message.contains("'dept'")
                && message.contains("table attributes: ")
                && message.contains("population"),
            "{message}"
        );
        let message = refused(body(json!({
            "type": "WMS-VECTOR", "name": "c", "layer_name": "communes",
            "type_infos": {"title": "C", "used_data": [{"stored_data": stored.id}]}
        })));
        assert!(
            message.contains("name the tables to draw, each with its style"),
            "{message}"
        );
        let mut with_info = wms_vector("communes", &stored.id, "communes_idf", &good);
        with_info.getfeatureinfo = Some(crate::model::GetFeatureInfo { stored_data: true });
        let message = refused(with_info);
        assert!(
            message.contains("getfeatureinfo.stored_data is for pyramids"),
            "{message}"
        );
        assert!(catalog.configurations(DS).unwrap().is_empty());
    }

    #[test]
    fn a_wfs_configuration_names_existing_tables_with_unique_public_names() {
        let catalog = catalog();
        let stored = communes_stored(&catalog);
        let wfs = |layer: &str, relations: Json| {
            body(json!({
                "type": "WFS", "name": "features", "layer_name": layer,
                "type_infos": {"used_data": [{"stored_data": stored.id, "relations": relations}]}
            }))
        };
        let refused = |b: ConfigurationBody| invalid(catalog.create_configuration(DS, b));
        let message = refused(wfs("f", json!([{"native_name": "parcelles"}])));
        assert!(
            message.contains("native_name 'parcelles' is not a table")
                && message.contains("communes_idf, ecoles"),
            "{message}"
        );
        let message = refused(wfs("f", json!([{"public_name": "x"}])));
        assert!(message.contains("has no native_name"), "{message}");
        let message = refused(wfs(
            "f",
            json!([{"native_name": "ecoles", "public_name": "a b"}]),
        ));
        assert!(
            message.contains("public_name 'a b' is not allowed"),
            "{message}"
        );
        let message = refused(wfs(
            "f",
            json!([{"native_name": "ecoles", "public_name": "p"}, {"native_name": "Communes-IDF", "public_name": "p"}]),
        ));
        assert!(message.contains("given twice"), "{message}");

        // The SDK's shape; the public name defaults to the stored table's.
        let made = catalog
            .create_configuration(
                DS,
                wfs(
                    "f",
                    json!([{"native_name": "Communes-IDF", "public_name": "communes", "title": "Communes", "keywords": ["IDF"], "abstract": "Les communes"}, {"native_name": "Écoles"}]),
                ),
            )
            .unwrap();
        assert_eq!(
            serde_json::to_value(&made).unwrap()["type_infos"]["used_data"][0]["relations"][0]
                ["public_name"],
            "communes"
        );
        let message = refused(wfs("g", json!([{"native_name": "ecoles"}])));
        assert!(
            message.contains("public_name 'ecoles' is already a feature type of configuration"),
            "{message}"
        );
        // A WMS layer may share a WFS configuration's layer_name: only public names are served.
        let sld = style(&catalog, &communes_sld());
        catalog
            .create_configuration(DS, wms_vector("f", &stored.id, "communes_idf", &sld))
            .unwrap();
        let offering = catalog
            .create_offering(
                DS,
                &made.id,
                &crate::NewOffering {
                    endpoint: "wfs".to_owned(),
                    open: true,
                },
            )
            .unwrap()
            .0;
        assert_eq!(offering.kind, ConfigurationType::Wfs);
        let published = catalog
            .read(|sql| publications(sql, &catalog.options.data_dir))
            .unwrap();
        let PublicationKind::Features { types } = &published[0].source else {
            panic!("{published:?}");
        };
        let names: Vec<(&str, &str)> = types
            .iter()
            .map(|t| (t.public_name.as_str(), t.table.as_str()))
            .collect();
        assert_eq!(names, [("communes", "communes_idf"), ("ecoles", "ecoles")]);
        assert_eq!(types[0].keywords, ["IDF"]);
    }

    #[test]
    fn a_configuration_publishes_existing_generated_stored_data_of_its_type() {
        let catalog = catalog();
        let upload = communes_upload(&catalog);
        let pyramid = rgb_pyramid(&catalog);
        let good = style(&catalog, &communes_sld());

        let message = invalid(
            catalog.create_configuration(DS, wms_vector("communes", "nope", "communes_idf", &good)),
        );
        assert!(
            message.contains("stored data 'nope' does not exist (GET …/stored_data lists them)"),
            "{message}"
        );
        let message = invalid(catalog.create_configuration(
            DS,
            wms_vector("communes", &pyramid.id, "communes_idf", &good),
        ));
        assert!(
            message.contains("is ROK4-PYRAMID-RASTER; this configuration publishes VECTOR-DB"),
            "{message}"
        );

        let execution = catalog
            .create_execution(
                DS,
                new_execution(crate::INTEGRATION_PROCESSING, &upload.id, json!({})),
            )
            .unwrap();
        let generating = execution.output.stored_data.id.clone();
        let message = conflict(catalog.create_configuration(
            DS,
            wms_vector("communes", &generating, "communes_idf", &good),
        ));
        assert!(
            message.contains("is Generating") && message.contains("wait for its processing to end"),
            "{message}"
        );
        // Its input file is damaged: the integration fails and the stored data is UNSTABLE.
        std::fs::write(
            catalog.upload_dir(&upload.id).join("communes_2154.gpkg"),
            b"x",
        )
        .unwrap();
        catalog.launch_execution(DS, &execution.id).unwrap();
        catalog.run_jobs();
        assert_eq!(
            catalog.stored_data(DS, &generating).unwrap().status,
            StoredDataStatus::Unstable
        );
        let message = conflict(catalog.create_configuration(
            DS,
            wms_vector("communes", &generating, "communes_idf", &good),
        ));
        assert!(
            message.contains("is Unstable") && message.contains("read its processing's logs"),
            "{message}"
        );
        assert!(catalog.configurations(DS).unwrap().is_empty());
    }

    #[test]
    fn a_layer_name_must_follow_the_pattern_and_not_be_used_by_another_layer() {
        let catalog = catalog();
        let stored = communes_stored(&catalog);
        let pyramid = rgb_pyramid(&catalog);
        let good = style(&catalog, &communes_sld());

        let message = invalid(catalog.create_configuration(
            DS,
            wms_vector("1communes", &stored.id, "communes_idf", &good),
        ));
        assert!(
            message.contains("layer_name '1communes' is not allowed")
                && message.contains("(e.g. '_1communes')"),
            "{message}"
        );
        let mut untitled = wms_vector("communes", &stored.id, "communes_idf", &good);
        untitled.type_infos.title = String::new();
        assert!(
            invalid(catalog.create_configuration(DS, untitled)).contains("give the layer a title")
        );
        let mut ftp = wms_vector("communes", &stored.id, "communes_idf", &good);
        ftp.metadata = vec![crate::model::MetadataLink {
            format: "text/html".into(),
            url: "ftp://example.org/m".into(),
            kind: None,
        }];
        assert!(invalid(catalog.create_configuration(DS, ftp))
            .contains("metadata url 'ftp://example.org/m' is not an http(s) URL"));

        let first = catalog
            .create_configuration(
                DS,
                wms_vector("communes", &stored.id, "communes_idf", &good),
            )
            .unwrap();
        let message = invalid(catalog.create_configuration(
            DS,
            wms_vector("communes", &stored.id, "communes_idf", &good),
        ));
        assert!(
            message.contains(&format!("layer_name 'communes' is already used by configuration {} (WMS-VECTOR) — choose another", first.id)),
            "{message}"
        );
        let message = invalid(catalog.create_configuration(
            DS,
            pyramid_config("WMTS-TMS", "communes", &pyramid.id, "8", "10"),
        ));
        assert!(
            message.contains("both would be served under that name — choose another"),
            "{message}"
        );
        // Replacing a configuration keeps its own name.
        catalog
            .replace_configuration(
                DS,
                &first.id,
                wms_vector("communes", &stored.id, "communes_idf", &good),
            )
            .unwrap();

        // A WMS-RASTER and a WMTS-TMS of one pyramid are one layer: they share its name.
        catalog
            .create_configuration(
                DS,
                pyramid_config("WMTS-TMS", "scan", &pyramid.id, "8", "10"),
            )
            .unwrap();
        catalog
            .create_configuration(
                DS,
                pyramid_config("WMS-RASTER", "scan", &pyramid.id, "8", "10"),
            )
            .unwrap();
        assert_eq!(catalog.configurations(DS).unwrap().len(), 3);
    }

    #[test]
    fn pyramid_levels_outside_the_stored_data_are_refused_naming_its_levels() {
        let catalog = catalog();
        let pyramid = rgb_pyramid(&catalog);
        let refused = |top: &str, bottom: &str| {
            invalid(catalog.create_configuration(
                DS,
                pyramid_config("WMTS-TMS", "scan", &pyramid.id, top, bottom),
            ))
        };
        let message = refused("8", "14");
        assert!(
            message.contains(&format!(
                "level 14 is not in stored data {}, which has levels 8 to 10",
                pyramid.id
            )),
            "{message}"
        );
        let message = refused("7", "10");
        assert!(
            message.contains("level 7 is not in stored data"),
            "{message}"
        );
        let message = refused("10", "8");
        assert!(
            message.contains(
                "top_level 10 is finer than bottom_level 8: the top is the coarsest level"
            ),
            "{message}"
        );
        let message = invalid(catalog.create_configuration(DS, body(json!({
            "type": "WMTS-TMS", "name": "s", "layer_name": "scan",
            "type_infos": {"title": "S", "used_data": [{"stored_data": pyramid.id}, {"stored_data": pyramid.id}]}
        }))));
        assert!(
            message.contains("a WMTS-TMS configuration publishes one pyramid: give one used_data"),
            "{message}"
        );
        let message = invalid(catalog.create_configuration(DS, body(json!({
            "type": "WMS-RASTER", "name": "s", "layer_name": "scan",
            "type_infos": {"title": "S", "used_data": [{"stored_data": pyramid.id, "relations": [{"name": "t", "style": "s"}]}]}
        }))));
        assert!(
            message.contains("relations are for WMS-VECTOR configurations"),
            "{message}"
        );
        assert!(catalog.configurations(DS).unwrap().is_empty());
        // Levels may be left out: the whole pyramid.
        catalog
            .create_configuration(
                DS,
                body(json!({
                    "type": "WMTS-TMS", "name": "s", "layer_name": "scan",
                    "type_infos": {"title": "S", "used_data": [{"stored_data": pyramid.id}]}
                })),
            )
            .unwrap();
    }

    #[test]
    fn a_wms_raster_style_must_have_a_raster_symbolizer_and_is_kept_while_used() {
        let catalog = catalog();
        let pyramid = rgb_pyramid(&catalog);
        let vector_style = style(&catalog, &communes_sld());
        let raster_style = style(
            &catalog,
            &std::fs::read_to_string(fixture("wms/dem.sld")).unwrap(),
        );
        let styled = |kind: &str, style: &str| {
            let mut body = pyramid_config(kind, "scan", &pyramid.id, "8", "10");
            body.type_infos.styles = Some(vec![style.to_owned()]);
            body
        };
        let message =
            invalid(catalog.create_configuration(DS, styled("WMS-RASTER", &vector_style)));
        assert!(
            message.contains(&format!("static '{vector_style}' has no RasterSymbolizer")),
            "{message}"
        );
        let message = invalid(catalog.create_configuration(DS, styled("WMTS-TMS", &raster_style)));
        assert!(
            message.contains("type_infos.styles is for WMS-RASTER configurations"),
            "{message}"
        );
        let configuration = catalog
            .create_configuration(DS, styled("WMS-RASTER", &raster_style))
            .unwrap();
        let message = conflict(catalog.delete_static(DS, &raster_style));
        assert!(
            message.contains(&format!("is the style of configuration '{}' (layer 'scan'): change or delete that configuration first", configuration.id)),
            "{message}"
        );
        catalog.delete_static(DS, &vector_style).unwrap();
        assert!(!catalog.static_path(&vector_style).exists());
        not_found(catalog.static_file_info(DS, &vector_style));
    }

    #[test]
    fn an_offering_publishes_a_configuration_once_and_a_retry_returns_the_same_offering() {
        let catalog = catalog();
        let publisher = publisher(&catalog);
        assert_eq!(
            publisher.live().swaps,
            1,
            "setting the publisher publishes the current state"
        );
        let stored = communes_stored(&catalog);
        let style = style(&catalog, &communes_sld());
        let configuration = catalog
            .create_configuration(
                DS,
                wms_vector("communes", &stored.id, "Communes-IDF", &style),
            )
            .unwrap();
        assert_eq!(
            publisher.live().swaps,
            1,
            "an unpublished configuration publishes nothing"
        );
        let generation = catalog.generation().unwrap();

        let offering = offer(&catalog, &configuration.id, "wms-vector");
        assert_eq!(offering.layer_name, "communes");
        assert_eq!(offering.kind, ConfigurationType::WmsVector);
        assert_eq!(offering.status, OfferingStatus::Published);
        assert_eq!(offering.endpoint.id, "wms-vector");
        assert_eq!(offering.configuration.id, configuration.id);
        assert!(offering.open && offering.available);
        assert_eq!(
            offering.urls[0].url,
            "/wms?SERVICE=WMS&REQUEST=GetCapabilities&LAYERS=communes"
        );
        assert_eq!(
            catalog.configuration(DS, &configuration.id).unwrap().status,
            ConfigurationStatus::Published
        );
        assert_eq!(catalog.generation().unwrap(), generation + 1);
        let live = publisher.live();
        assert_eq!(live.swaps, 2);
        let [publication] = live.publications.as_slice() else {
            panic!("{live:?}")
        };
        assert_eq!(
            (publication.layer_name.as_str(), publication.open),
            ("communes", true)
        );
        assert_eq!(publication.offering, offering.id);
        assert_eq!(
            publication.source,
            PublicationKind::Vector {
                relations: vec![PublishedRelation {
                    stored_data: stored.id.clone(),
                    dir: catalog.stored_dir(&stored.id),
                    table: "communes_idf".to_owned(),
                    style: catalog.static_path(&style),
                }]
            }
        );
        let datastore = catalog.datastore(DS).unwrap();
        let counts: Vec<(&str, u64)> = datastore
            .endpoints
            .iter()
            .map(|e| (e.endpoint.id.as_str(), e.use_count))
            .collect();
        assert_eq!(
            counts,
            [
                ("wms-vector", 1),
                ("wfs", 0),
                ("wms-raster", 0),
                ("wmts-tms", 0)
            ]
        );

        // The retry (a client that lost the answer) changes nothing but `open`.
        let (again, created) = catalog
            .create_offering(
                DS,
                &configuration.id,
                &NewOffering {
                    endpoint: "wms-vector".into(),
                    open: false,
                },
            )
            .unwrap();
        assert!(!created);
        assert_eq!(again.id, offering.id);
        assert!(!again.open);
        assert_eq!(catalog.offerings(DS).unwrap(), std::slice::from_ref(&again));
        assert!(!publisher.live().publications[0].open);
    }

    #[test]
    fn an_unknown_endpoint_or_one_of_another_type_is_refused_naming_the_right_one() {
        let catalog = catalog();
        let publisher = publisher(&catalog);
        let pyramid = rgb_pyramid(&catalog);
        let configuration = catalog
            .create_configuration(
                DS,
                pyramid_config("WMTS-TMS", "scan", &pyramid.id, "8", "10"),
            )
            .unwrap();
        let generation = catalog.generation().unwrap();

        let message =
            invalid(catalog.create_offering(DS, &configuration.id, &endpoint("wms-raster")));
        assert!(
            message.contains("endpoint 'wms-raster' serves WMS-RASTER configurations")
                && message.contains("publish it on endpoint 'wmts-tms'"),
            "{message}"
        );
        let message = invalid(catalog.create_offering(DS, &configuration.id, &endpoint("wms")));
        assert!(
            message.contains("endpoint 'wms' does not exist: use one of wms-vector (WMS-VECTOR), wfs (WFS), wms-raster (WMS-RASTER), wmts-tms (WMTS-TMS)"),
            "{message}"
        );
        assert_eq!(
            not_found(catalog.create_offering(DS, "nope", &endpoint("wmts-tms"))),
            ("configuration", "nope".to_owned())
        );
        assert_eq!(
            not_found(catalog.create_offering(
                "elsewhere",
                &configuration.id,
                &endpoint("wmts-tms")
            )),
            ("datastore", "elsewhere".to_owned())
        );
        assert!(catalog.offerings(DS).unwrap().is_empty());
        assert_eq!(
            catalog.configuration(DS, &configuration.id).unwrap().status,
            ConfigurationStatus::Unpublished
        );
        assert_eq!(catalog.generation().unwrap(), generation);
        assert_eq!(publisher.live().swaps, 1);

        let offering = offer(&catalog, &configuration.id, "wmts-tms");
        let urls: Vec<(&str, &str)> = offering
            .urls
            .iter()
            .map(|u| (u.kind.as_str(), u.url.as_str()))
            .collect();
        assert_eq!(
            urls,
            [
                ("WMTS", "/wmts?SERVICE=WMTS&REQUEST=GetCapabilities"),
                ("TMS", "/tms/1.0.0/scan")
            ]
        );
        let live = publisher.live();
        let PublicationKind::Pyramid {
            stored_data,
            descriptor,
            bottom_level,
            top_level,
            getfeatureinfo,
            styles,
        } = &live.publications[0].source
        else {
            panic!("{live:?}")
        };
        assert_eq!(stored_data, &pyramid.id);
        let pyramid::Location::File(descriptor) = descriptor else {
            panic!("{descriptor}")
        };
        assert!(descriptor.is_file(), "{}", descriptor.display());
        assert_eq!(
            (top_level.as_deref(), bottom_level.as_deref()),
            (Some("8"), Some("10"))
        );
        assert!(!getfeatureinfo && styles.is_empty());
    }

    #[test]
    fn a_change_the_publisher_refuses_is_rolled_back_and_nothing_is_half_published() {
        let catalog = catalog();
        let publisher = publisher(&catalog);
        let stored = communes_stored(&catalog);
        let red = style(&catalog, &communes_sld());
        let blue = style(&catalog, &communes_sld().replace("#E41A1C", "#0000FF"));
        let configuration = catalog
            .create_configuration(DS, wms_vector("communes", &stored.id, "communes_idf", &red))
            .unwrap();

        // A first publication refused: no offering, still UNPUBLISHED, nothing swapped.
        publisher.refuse(Some("the font is missing"));
        let before = (catalog.generation().unwrap(), publisher.live());
        let message =
            invalid(catalog.create_offering(DS, &configuration.id, &endpoint("wms-vector")));
        assert_eq!(
            message,
            "this change cannot be published: the font is missing"
        );
        assert!(catalog.offerings(DS).unwrap().is_empty());
        assert_eq!(
            catalog.configuration(DS, &configuration.id).unwrap(),
            configuration
        );
        assert_eq!((catalog.generation().unwrap(), publisher.live()), before);

        publisher.refuse(None);
        let offering = offer(&catalog, &configuration.id, "wms-vector");
        let published = catalog.configuration(DS, &configuration.id).unwrap();

        // Changes of what is live, refused: each leaves the catalog and the live layers as they were.
        publisher.refuse(Some("cannot draw"));
        let before = (catalog.generation().unwrap(), publisher.live());
        let mut renamed = wms_vector("communes2", &stored.id, "communes_idf", &blue);
        renamed.type_infos.title = "Blue".into();
        invalid(catalog.replace_configuration(DS, &configuration.id, renamed));
        invalid(catalog.set_offering_open(DS, &offering.id, false));
        invalid(catalog.delete_offering(DS, &offering.id));
        invalid(catalog.create_permission(
            DS,
            crate::NewPermission {
                licence: String::new(),
                end_date: None,
                offerings: vec![offering.id.clone()],
            },
        ));
        invalid(catalog.create_key(crate::NewKey {
            name: "k".into(),
            accesses: Vec::new(),
        }));
        assert_eq!(
            catalog.configuration(DS, &configuration.id).unwrap(),
            published
        );
        assert_eq!(
            catalog.offerings(DS).unwrap(),
            std::slice::from_ref(&offering)
        );
        assert!(catalog.permissions(DS).unwrap().is_empty());
        assert!(catalog.keys().unwrap().is_empty());
        assert_eq!((catalog.generation().unwrap(), publisher.live()), before);
        // Republishing the unchanged state is refused too, as an internal error.
        assert!(
            matches!(catalog.republish(), Err(CatalogError::Internal(m)) if m.contains("cannot draw"))
        );
    }

    #[test]
    fn a_published_configuration_changes_live_and_a_new_layer_name_renames_its_offerings() {
        let catalog = catalog();
        let publisher = publisher(&catalog);
        let stored = communes_stored(&catalog);
        let red = style(&catalog, &communes_sld());
        let blue = style(&catalog, &communes_sld().replace("#E41A1C", "#0000FF"));
        let configuration = catalog
            .create_configuration(DS, wms_vector("communes", &stored.id, "communes_idf", &red))
            .unwrap();
        let offering = offer(&catalog, &configuration.id, "wms-vector");

        let replaced = catalog
            .replace_configuration(
                DS,
                &configuration.id,
                wms_vector("communes_bleues", &stored.id, "communes_idf", &blue),
            )
            .unwrap();
        assert_eq!(replaced.status, ConfigurationStatus::Published);
        assert_eq!(replaced.last_event.title, "modified");
        let renamed = catalog.offering(DS, &offering.id).unwrap();
        assert_eq!(renamed.layer_name, "communes_bleues");
        assert_eq!(renamed.configuration.name, "communes_bleues config");
        assert_eq!(
            renamed.urls[0].url,
            "/wms?SERVICE=WMS&REQUEST=GetCapabilities&LAYERS=communes_bleues"
        );
        let live = publisher.live();
        assert_eq!(live.publications[0].layer_name, "communes_bleues");
        let PublicationKind::Vector { relations } = &live.publications[0].source else {
            panic!()
        };
        assert_eq!(relations[0].style, catalog.static_path(&blue));

        let pyramid_body = body(json!({
            "type": "WMS-RASTER", "name": "x", "layer_name": "communes_bleues",
            "type_infos": {"title": "x", "used_data": [{"stored_data": stored.id}]}
        }));
        let message = invalid(catalog.replace_configuration(DS, &configuration.id, pyramid_body));
        assert!(
            message.contains(
                "is WMS-VECTOR: its type cannot become WMS-RASTER; create a new configuration"
            ),
            "{message}"
        );
        assert_eq!(
            not_found(catalog.replace_configuration(
                DS,
                "nope",
                wms_vector("x", &stored.id, "communes_idf", &blue)
            )),
            ("configuration", "nope".to_owned())
        );
    }

    #[test]
    fn what_a_configuration_uses_is_not_deleted_until_the_configuration_is() {
        let catalog = catalog();
        let publisher = publisher(&catalog);
        let stored = communes_stored(&catalog);
        let style = style(&catalog, &communes_sld());
        let configuration = catalog
            .create_configuration(
                DS,
                wms_vector("communes", &stored.id, "communes_idf", &style),
            )
            .unwrap();
        let offering = offer(&catalog, &configuration.id, "wms-vector");

        let message = conflict(catalog.delete_configuration(DS, &configuration.id));
        assert!(
            message.contains(&format!(
                "is published by offering '{}': delete the offering first",
                offering.id
            )),
            "{message}"
        );
        let in_use = |message: String| {
            assert!(
                message.contains(&format!(
                    "configuration '{}' (layer 'communes')",
                    configuration.id
                )),
                "{message}"
            );
            assert!(
                message.contains("delete or change that configuration first")
                    || message.contains("change or delete that configuration first"),
                "{message}"
            );
        };
        in_use(conflict(catalog.delete_stored_data(DS, &stored.id)));
        in_use(conflict(catalog.delete_static(DS, &style)));

        // Unpublished: gone from the live layers, the configuration UNPUBLISHED and still using
        // its data.
        catalog.delete_offering(DS, &offering.id).unwrap();
        assert!(publisher.live().publications.is_empty());
        let unpublished = catalog.configuration(DS, &configuration.id).unwrap();
        assert_eq!(unpublished.status, ConfigurationStatus::Unpublished);
        assert_eq!(unpublished.last_event.title, "unpublished");
        // Readable as UNPUBLISHED until a second DELETE, as on the Entrepôt; offered again,
        // it is published again under the same id.
        assert_eq!(
            catalog.offering(DS, &offering.id).unwrap().status,
            OfferingStatus::Unpublished
        );
        let again = offer(&catalog, &configuration.id, "wms-vector");
        assert_eq!(again.id, offering.id);
        assert_eq!(again.status, OfferingStatus::Published);
        assert_eq!(publisher.live().publications.len(), 1);
        catalog.delete_offering(DS, &offering.id).unwrap();
        assert!(publisher.live().publications.is_empty());
        catalog.delete_offering(DS, &offering.id).unwrap();
        assert_eq!(
            not_found(catalog.offering(DS, &offering.id)),
            ("offering", offering.id.clone())
        );
        in_use(conflict(catalog.delete_stored_data(DS, &stored.id)));
        in_use(conflict(catalog.delete_static(DS, &style)));

        catalog.delete_configuration(DS, &configuration.id).unwrap();
        catalog.delete_static(DS, &style).unwrap();
        catalog.delete_stored_data(DS, &stored.id).unwrap();
        assert!(!catalog.stored_dir(&stored.id).exists());
        assert!(!catalog.static_path(&style).exists());
    }

    #[test]
    fn layer_names_follow_the_entrepot_pattern() {
        for good in ["scan1000", "_x", "a.b-c_d", "Cantons"] {
            assert!(LAYER_NAME.is_match(good), "{good}");
        }
        for bad in ["1abc", "-a", "a b", "é", "", "a/b"] {
            assert!(!LAYER_NAME.is_match(bad), "{bad}");
        }
        assert_eq!(suggest_layer_name("1 Écoles"), "'_1_ecoles'");
    }
}
