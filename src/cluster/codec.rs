//! How trailscope's cluster tables and scans cross the wire: a logical extension codec used by the
//! client (to send a plan) and the scheduler (to receive it), and a physical one used by the
//! scheduler (to send tasks) and executors (to run them). Everything else is Ballista's codec.

use std::io::Cursor;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};

use super::convert::{ConvertTask, ConvertTaskExec, ConvertTasks};
use super::raw::{ArchiveObjects, ArchiveScanExec, ArchiveScanTask};
use super::readings::{ObjectReadings, ReadingsExec, ReadingsTask};
use super::table::{LakeAndArchive, LakeFiles, ShippedTable, received_table};
use crate::enrich::Pinned;
use crate::table::ip_functions;

/// First byte of an encoded table: which of ours it is.
const LAKE_FILES: u8 = b'L';
const SHIPPED: u8 = b'S';
const ARCHIVE_OBJECTS: u8 = b'R';
const LAKE_AND_ARCHIVE: u8 = b'U';
const CONVERT_TASKS: u8 = b'C';
const OBJECT_READINGS: u8 = b'H';

#[derive(Debug, Default)]
pub struct TrailscopeCodec {
    ballista: BallistaLogicalExtensionCodec,
}

fn codec_error(what: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("trailscope cluster codec: {what}"))
}

/// Starts an encoded IP function: its enrichment files, pinned (see [`ip_functions::shipped`]).
/// Every other function goes by name, from the receiver's registry.
const PINNED_FUNCTION: &[u8] = b"trailscope-pinned-enrichment\0";

fn encode_udf(node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
    if let Some(pinned) = ip_functions::shipped(node) {
        buf.extend_from_slice(PINNED_FUNCTION);
        serde_json::to_writer(&mut *buf, &pinned).map_err(codec_error)?;
    }
    Ok(())
}

fn decode_udf(name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
    let Some(json) = buf.strip_prefix(PINNED_FUNCTION) else {
        return Err(codec_error(format!("no function {name} in this process")));
    };
    let pinned: Pinned = serde_json::from_slice(json).map_err(codec_error)?;
    ip_functions::pinned_udf(name, pinned)
        .map(Arc::new)
        .ok_or_else(|| codec_error(format!("{name} is not an enrichment function")))
}

impl LogicalExtensionCodec for TrailscopeCodec {
    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }

    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.split_first() {
            Some((&LAKE_FILES, json)) => {
                let table: LakeFiles = serde_json::from_slice(json).map_err(codec_error)?;
                Ok(Arc::new(table))
            }
            Some((&ARCHIVE_OBJECTS, json)) => {
                let table: ArchiveObjects = serde_json::from_slice(json).map_err(codec_error)?;
                Ok(Arc::new(table))
            }
            Some((&LAKE_AND_ARCHIVE, json)) => {
                let table: LakeAndArchive = serde_json::from_slice(json).map_err(codec_error)?;
                Ok(Arc::new(table))
            }
            Some((&CONVERT_TASKS, json)) => {
                let table: ConvertTasks = serde_json::from_slice(json).map_err(codec_error)?;
                Ok(Arc::new(table))
            }
            Some((&OBJECT_READINGS, json)) => {
                let table: ObjectReadings = serde_json::from_slice(json).map_err(codec_error)?;
                Ok(Arc::new(table))
            }
            Some((&SHIPPED, ipc)) => {
                let reader = StreamReader::try_new(Cursor::new(ipc), None)?;
                let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(received_table(schema, batches)?)
            }
            _ => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(lake) = node.downcast_ref::<LakeFiles>() {
            buf.push(LAKE_FILES);
            serde_json::to_writer(&mut *buf, lake).map_err(codec_error)?;
            return Ok(());
        }
        if let Some(raw) = node.downcast_ref::<ArchiveObjects>() {
            buf.push(ARCHIVE_OBJECTS);
            serde_json::to_writer(&mut *buf, &raw.to_send()).map_err(codec_error)?;
            return Ok(());
        }
        if let Some(both) = node.downcast_ref::<LakeAndArchive>() {
            buf.push(LAKE_AND_ARCHIVE);
            let sent = LakeAndArchive {
                lake: both.lake.clone(),
                raw: both.raw.to_send(),
            };
            serde_json::to_writer(&mut *buf, &sent).map_err(codec_error)?;
            return Ok(());
        }
        if let Some(tasks) = node.downcast_ref::<ConvertTasks>() {
            buf.push(CONVERT_TASKS);
            serde_json::to_writer(&mut *buf, tasks).map_err(codec_error)?;
            return Ok(());
        }
        if let Some(readings) = node.downcast_ref::<ObjectReadings>() {
            buf.push(OBJECT_READINGS);
            let sent = ObjectReadings {
                raw: readings.raw.to_send(),
            };
            serde_json::to_writer(&mut *buf, &sent).map_err(codec_error)?;
            return Ok(());
        }
        if let Some(shipped) = node.downcast_ref::<ShippedTable>() {
            buf.push(SHIPPED);
            let mut writer = StreamWriter::try_new(&mut *buf, &shipped.schema())?;
            for batch in shipped.rows()? {
                writer.write(batch)?;
            }
            writer.finish()?;
            return Ok(());
        }
        self.ballista
            .try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// Start an encoded [`ArchiveScanExec`], [`ConvertTaskExec`] and [`ReadingsExec`]; Ballista's
/// own nodes are protobuf messages, which never start with these bytes.
const ARCHIVE_SCAN: &[u8] = b"trailscope-archive-scan\0";
const CONVERT_TASK: &[u8] = b"trailscope-convert-task\0";
const READINGS_TASK: &[u8] = b"trailscope-readings-task\0";

/// The physical codec of scheduler and executors: our raw scan, then Ballista's nodes.
#[derive(Debug, Default)]
pub struct TrailscopePhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for TrailscopePhysicalCodec {
    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }

    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(json) = buf.strip_prefix(ARCHIVE_SCAN) {
            let task: ArchiveScanTask = serde_json::from_slice(json).map_err(codec_error)?;
            return Ok(Arc::new(ArchiveScanExec::from_task(task)));
        }
        if let Some(json) = buf.strip_prefix(CONVERT_TASK) {
            let task: ConvertTask = serde_json::from_slice(json).map_err(codec_error)?;
            return Ok(Arc::new(ConvertTaskExec::new(task)));
        }
        if let Some(json) = buf.strip_prefix(READINGS_TASK) {
            let task: ReadingsTask = serde_json::from_slice(json).map_err(codec_error)?;
            return Ok(Arc::new(ReadingsExec::new(task)));
        }
        self.ballista.try_decode(buf, inputs, ctx, converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(scan) = node.downcast_ref::<ArchiveScanExec>() {
            buf.extend_from_slice(ARCHIVE_SCAN);
            return serde_json::to_writer(&mut *buf, &scan.task()).map_err(codec_error);
        }
        if let Some(convert) = node.downcast_ref::<ConvertTaskExec>() {
            buf.extend_from_slice(CONVERT_TASK);
            return serde_json::to_writer(&mut *buf, convert.task()).map_err(codec_error);
        }
        if let Some(readings) = node.downcast_ref::<ReadingsExec>() {
            buf.extend_from_slice(READINGS_TASK);
            return serde_json::to_writer(&mut *buf, readings.task()).map_err(codec_error);
        }
        self.ballista.try_encode(node, buf, converter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    #[tokio::test]
    async fn shipped_rows_and_lake_files_round_trip() {
        let codec = TrailscopeCodec::default();
        let ctx = TaskContext::default();
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        let mem = received_table(Arc::clone(&schema), vec![batch]).unwrap();
        let shipped = Arc::new(ShippedTable::new("t", mem));
        let state = datafusion::prelude::SessionContext::new().state();
        shipped.materialize(&state).await.unwrap();
        let mut buf = Vec::new();
        let table = TableReference::bare("t");
        codec
            .try_encode_table_provider(&table, shipped, &mut buf)
            .unwrap();
        let back = codec
            .try_decode_table_provider(&buf, &table, Arc::clone(&schema), &ctx)
            .unwrap();
        let rows = datafusion::prelude::SessionContext::new()
            .read_table(back)
            .unwrap()
            .count()
            .await
            .unwrap();
        assert_eq!(rows, 3);

        let lake = Arc::new(LakeFiles {
            store_url: "file://".into(),
            root: "tmp/lake".into(),
            files: Vec::new(),
            scope: crate::cluster::table::WireScope {
                from: Some(1),
                accounts: ["111122223333".to_string()].into(),
                ..Default::default()
            },
            changed: vec!["changed.json.gz".into()],
        });
        let mut buf = Vec::new();
        codec
            .try_encode_table_provider(&table, lake, &mut buf)
            .unwrap();
        let back = codec
            .try_decode_table_provider(
                &buf,
                &table,
                crate::decode::schema::cloudtrail_schema(),
                &ctx,
            )
            .unwrap();
        let back = back.downcast_ref::<LakeFiles>().unwrap();
        assert_eq!(
            (back.root.as_str(), back.scope.from, back.changed.len()),
            ("tmp/lake", Some(1), 1)
        );
    }
}
