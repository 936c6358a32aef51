//! The resources, with the Entrepôt's JSON field names (`_id`, `type`, `status`, `type_infos`…)
//! and status values, so that producers' scripts written for the Géoplateforme carry over.
//!
//! Each struct is both what the catalog stores (as JSON in SQLite) and what the API answers;
//! the few internal fields (a key's hash) are never serialised to clients (see [`Key`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// Upload kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum UploadType {
    /// A GeoPackage, or a zip holding GeoPackages.
    #[serde(rename = "VECTOR")]
    Vector,
    /// GeoTIFF files.
    #[serde(rename = "RASTER")]
    Raster,
}

/// Upload states: OPEN (files can be pushed) → CHECKING → CLOSED (checks passed) or UNSTABLE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum UploadStatus {
    /// Files can be pushed.
    Open,
    /// Checks are running.
    Checking,
    /// Checks passed: the upload can be processed.
    Closed,
    /// A check failed: see its logs.
    Unstable,
}

/// One file of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UploadFile {
    /// Path inside the upload (`data/file.gpkg`).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// MD5 of the content, hex.
    pub md5: String,
}

/// An upload: files delivered by a producer, checked before processing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Upload {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// VECTOR or RASTER.
    #[serde(rename = "type")]
    pub kind: UploadType,
    /// Declared SRS (`EPSG:2154`).
    pub srs: String,
    /// State.
    pub status: UploadStatus,
    /// Total size of the files.
    pub size: u64,
    /// The files.
    #[serde(default)]
    pub files: Vec<UploadFile>,
    /// MD5 sums the producer declared (`POST …/md5`), by path.
    #[serde(default)]
    pub declared_md5: BTreeMap<String, String>,
    /// Free tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Creation date (RFC 3339).
    pub creation: String,
    /// The last event.
    pub last_event: Event,
}

/// The last thing that happened to a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// What.
    pub title: String,
    /// When (RFC 3339).
    pub date: String,
}

/// Check and processing execution states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExecutionStatus {
    /// Created, not launched (processings only).
    Created,
    /// Queued.
    Waiting,
    /// Running.
    Progress,
    /// Done.
    Success,
    /// Failed: see the logs.
    Failure,
    /// Stopped by a restart and not resumable.
    Aborted,
}

impl ExecutionStatus {
    /// Whether the execution is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Failure | Self::Aborted)
    }
}

/// A reference to a resource: `{_id, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reference {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// One check run on an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckExecution {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The check.
    pub check: Reference,
    /// The upload checked.
    pub upload: String,
    /// State.
    pub status: ExecutionStatus,
    /// When created.
    pub creation: String,
    /// When started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// When finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish: Option<String>,
}

/// The checks of an upload, by state (the Entrepôt's `GET …/uploads/{id}/checks`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UploadChecks {
    /// Queued.
    pub asked: Vec<CheckExecution>,
    /// Running.
    pub in_progress: Vec<CheckExecution>,
    /// Passed.
    pub passed: Vec<CheckExecution>,
    /// Failed: their logs say why.
    pub failed: Vec<CheckExecution>,
}

/// A processing the server offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Processing {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Accepted inputs.
    pub input_types: InputTypes,
    /// What it makes.
    pub output_type: OutputType,
    /// Its parameters.
    pub parameters: Vec<ProcessingParameter>,
}

/// Accepted input kinds of a processing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InputTypes {
    /// Upload types.
    pub upload: Vec<UploadType>,
    /// Stored data types.
    pub stored_data: Vec<String>,
}

/// Output of a processing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutputType {
    /// The stored data type made.
    pub stored_data: String,
}

/// A processing parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProcessingParameter {
    /// Name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Whether it must be given.
    pub mandatory: bool,
    /// Default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Json>,
}

/// Inputs of an execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExecutionInputs {
    /// Uploads.
    #[serde(default)]
    pub upload: Vec<Reference>,
    /// Stored data.
    #[serde(default)]
    pub stored_data: Vec<Reference>,
}

/// Output of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExecutionOutput {
    /// The stored data made.
    pub stored_data: StoredDataReference,
}

/// A stored data reference with its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredDataReference {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: StoredDataType,
}

/// A processing execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Execution {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// The processing.
    pub processing: Reference,
    /// State.
    pub status: ExecutionStatus,
    /// Inputs.
    pub inputs: ExecutionInputs,
    /// Output.
    pub output: ExecutionOutput,
    /// Parameters, as given.
    pub parameters: serde_json::Map<String, Json>,
    /// When created.
    pub creation: String,
    /// When launched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<String>,
    /// When started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// When finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish: Option<String>,
}

/// Stored data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum StoredDataType {
    /// Vector tables in a GeoPackage.
    #[serde(rename = "VECTOR-DB")]
    VectorDb,
    /// A ROK4 raster pyramid.
    #[serde(rename = "ROK4-PYRAMID-RASTER")]
    PyramidRaster,
    /// A ROK4 vector pyramid (Mapbox Vector Tiles).
    #[serde(rename = "ROK4-PYRAMID-VECTOR")]
    PyramidVector,
}

impl StoredDataType {
    /// The Entrepôt's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VectorDb => "VECTOR-DB",
            Self::PyramidRaster => "ROK4-PYRAMID-RASTER",
            Self::PyramidVector => "ROK4-PYRAMID-VECTOR",
        }
    }
}

/// Stored data states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum StoredDataStatus {
    /// Being made.
    Generating,
    /// Ready.
    Generated,
    /// Its processing failed.
    Unstable,
}

/// Where a stored data's files are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum StoredDataStorage {
    /// In the server's data directory.
    #[default]
    #[serde(rename = "FILESYSTEM")]
    Filesystem,
    /// Objects in S3-compatible object storage, under a prefix: a ROK4 pyramid
    /// (`{location}/pyramid.json`, `{location}/pyramid.list`, `{location}/pyramid/DATA_…`).
    #[serde(rename = "S3")]
    S3 {
        /// `s3://bucket/prefix` of its objects.
        location: String,
    },
}

/// Stored data: the result of a processing, ready to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredData {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: StoredDataType,
    /// State.
    pub status: StoredDataStatus,
    /// SRS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srs: Option<String>,
    /// Extent in CRS:84 as a GeoJSON polygon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extent: Option<Json>,
    /// Size on disk, bytes.
    #[serde(default)]
    pub size: u64,
    /// Type details: tables and attributes (vector), tms and levels (pyramid).
    #[serde(default)]
    pub type_infos: Json,
    /// Free tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Where its files are kept (the data directory unless the server puts pyramids in
    /// object storage).
    #[serde(default)]
    pub storage: StoredDataStorage,
    /// When created.
    pub creation: String,
    /// The last event.
    pub last_event: Event,
}

/// Static file types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum StaticType {
    /// An SLD style.
    #[serde(rename = "GEOSERVER-STYLE")]
    GeoserverStyle,
}

/// A static file (an SLD style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Static {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: StaticType,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `{format: "SLD"}` and the NamedLayer names.
    pub type_infos: Json,
    /// When created.
    pub creation: String,
}

/// Configuration types (and endpoint types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ConfigurationType {
    /// Vector tables drawn with SLD styles by WMS.
    #[serde(rename = "WMS-VECTOR")]
    WmsVector,
    /// A pyramid served by WMS.
    #[serde(rename = "WMS-RASTER")]
    WmsRaster,
    /// A pyramid served by WMTS and TMS.
    #[serde(rename = "WMTS-TMS")]
    WmtsTms,
    /// Vector tables handed out as features by WFS.
    #[serde(rename = "WFS")]
    Wfs,
}

impl ConfigurationType {
    /// The Entrepôt's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WmsVector => "WMS-VECTOR",
            Self::WmsRaster => "WMS-RASTER",
            Self::WmtsTms => "WMTS-TMS",
            Self::Wfs => "WFS",
        }
    }
}

/// Configuration states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConfigurationStatus {
    /// No offering.
    Unpublished,
    /// Offered on an endpoint.
    Published,
}

/// A metadata link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetadataLink {
    /// MIME type of the document (`application/xml`, `text/html`).
    pub format: String,
    /// URL.
    pub url: String,
    /// Kind (`ISOAP`, `ISO19115:2003`…), optional.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// An attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attribution {
    /// Title.
    pub title: String,
    /// URL.
    pub url: String,
}

/// A configuration as a client sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigurationBody {
    /// Type.
    #[serde(rename = "type")]
    pub kind: ConfigurationType,
    /// Name.
    pub name: String,
    /// Layer name in the services.
    pub layer_name: String,
    /// Title, abstract, keywords, used data, getfeatureinfo.
    pub type_infos: TypeInfos,
    /// Metadata links.
    #[serde(default)]
    pub metadata: Vec<MetadataLink>,
    /// Attribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
    /// `{stored_data: true}`: GetFeatureInfo answers the stored pixel value (pyramids). The
    /// Entrepôt's tutorials put it here, beside `type_infos`; inside `type_infos` works too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub getfeatureinfo: Option<GetFeatureInfo>,
}

impl ConfigurationBody {
    /// Whether GetFeatureInfo answers the stored pixel values.
    pub fn stored_data_info(&self) -> bool {
        self.getfeatureinfo
            .or(self.type_infos.getfeatureinfo)
            .is_some_and(|g| g.stored_data)
    }
}

/// `type_infos` of a configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TypeInfos {
    /// Title (WFS configurations title each relation instead).
    #[serde(default)]
    pub title: String,
    /// Abstract.
    #[serde(default, rename = "abstract")]
    pub abstract_text: String,
    /// Keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The data used.
    pub used_data: Vec<UsedData>,
    /// `{stored_data: true}`: GetFeatureInfo answers the stored pixel value (pyramids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub getfeatureinfo: Option<GetFeatureInfo>,
    /// WMS-RASTER: an SLD static styling the pyramid (RasterSymbolizer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub styles: Option<Vec<String>>,
}

/// GetFeatureInfo settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GetFeatureInfo {
    /// Answer the stored value.
    pub stored_data: bool,
}

/// Data used by a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UsedData {
    /// Stored data id.
    pub stored_data: String,
    /// WMS-VECTOR: the tables drawn, in drawing order, each with its style.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<Relation>,
    /// Pyramids: the finest level served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bottom_level: Option<String>,
    /// Pyramids: the coarsest level served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_level: Option<String>,
}

/// A table of a vector configuration: drawn with a style (WMS-VECTOR: `name`, `style`), or
/// handed out as a feature type (WFS: `native_name`, `public_name`, `title`, `keywords`,
/// `abstract`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Relation {
    /// WMS-VECTOR: the table name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// WMS-VECTOR: the static (SLD) id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub style: String,
    /// WFS: the table name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_name: Option<String>,
    /// WFS: the feature type's name (default: the stored table name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_name: Option<String>,
    /// WFS: the feature type's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// WFS: its keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// WFS: its abstract.
    #[serde(default, rename = "abstract", skip_serializing_if = "Option::is_none")]
    pub abstract_text: Option<String>,
}

/// A configuration: how stored data is shown as a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Configuration {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// State.
    pub status: ConfigurationStatus,
    /// The description.
    #[serde(flatten)]
    pub body: ConfigurationBody,
    /// Warnings of the last validation (names matched only after normalisation…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Free tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// When created.
    pub creation: String,
    /// The last event.
    pub last_event: Event,
}

/// Offering states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum OfferingStatus {
    /// Live.
    Published,
    /// No longer served (after a first DELETE, as on the Entrepôt); a second DELETE removes
    /// it, a new offering of the same configuration on the same endpoint publishes it again.
    Unpublished,
}

/// An endpoint URL of an offering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OfferingUrl {
    /// `WMS`, `WMTS`, `TMS`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL (relative to the server's base).
    pub url: String,
}

/// An offering: a configuration live on an endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Offering {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Layer name.
    pub layer_name: String,
    /// Configuration type.
    #[serde(rename = "type")]
    pub kind: ConfigurationType,
    /// State.
    pub status: OfferingStatus,
    /// Open to all (true) or restricted to API keys granted it (false).
    pub open: bool,
    /// Whether it is served.
    pub available: bool,
    /// The endpoint.
    pub endpoint: Reference,
    /// The configuration.
    pub configuration: Reference,
    /// Where it is served.
    pub urls: Vec<OfferingUrl>,
    /// When created.
    pub creation: String,
}

/// An endpoint: where offerings are served (from the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Endpoint {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// The Géoplateforme's name of the endpoint this one stands for (`gpf-geoserver-wms-v`,
    /// `gpf-rok4-server-wms-r`, `gpf-rok4-server-wmts-tms`): IGN's SDK workflows find
    /// endpoints by it.
    pub technical_name: String,
    /// The configuration type it serves.
    #[serde(rename = "type")]
    pub kind: ConfigurationType,
    /// Whether it serves open offerings (all endpoints do; restricted ones too).
    pub open: bool,
    /// Service URLs (relative to the server's base).
    pub urls: Vec<OfferingUrl>,
}

/// A datastore and its endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Datastore {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// The endpoints.
    pub endpoints: Vec<DatastoreEndpoint>,
}

/// An endpoint as a datastore lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DatastoreEndpoint {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Offerings it holds.
    pub use_count: u64,
}

/// A permission: offerings granted (to the keys that use it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Permission {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Licence text.
    #[serde(default)]
    pub licence: String,
    /// End date (RFC 3339), after which it grants nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// Granted offerings.
    pub offerings: Vec<Reference>,
    /// When created.
    pub creation: String,
}

/// What a key may use: offerings of a permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyAccess {
    /// The permission.
    pub permission: String,
    /// Offerings of that permission (all of them when empty).
    #[serde(default)]
    pub offerings: Vec<String>,
}

/// An API key (its value is shown once, at creation; only its hash is kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Key {
    /// Id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// `HASH`: the key is a secret value sent as `apikey` or `X-Api-Key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it may use.
    #[serde(default)]
    pub accesses: Vec<KeyAccess>,
    /// When created.
    pub creation: String,
    /// SHA-256 of the value, hex; never answered.
    #[serde(default, skip_serializing)]
    pub hash: String,
}

impl Key {
    /// The stored form (with the hash): `Key` skips it when answering.
    pub(crate) fn stored(&self) -> Json {
        let mut value = serde_json::to_value(self).unwrap_or(Json::Null);
        if let Some(object) = value.as_object_mut() {
            object.insert("hash".to_owned(), Json::String(self.hash.clone()));
        }
        value
    }
}
