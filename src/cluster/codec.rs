//! How trailscope's cluster tables cross the wire: a logical extension codec used by the client
//! (to send a plan) and the scheduler (to receive it). Everything else is Ballista's codec.

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
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion_proto::logical_plan::LogicalExtensionCodec;

use ballista_core::serde::BallistaLogicalExtensionCodec;

use super::table::{LakeFiles, ShippedTable, received_table};

/// First byte of an encoded table: which of ours it is.
const LAKE_FILES: u8 = b'L';
const SHIPPED: u8 = b'S';

#[derive(Debug, Default)]
pub struct TrailscopeCodec {
    ballista: BallistaLogicalExtensionCodec,
}

fn codec_error(what: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("trailscope cluster codec: {what}"))
}

impl LogicalExtensionCodec for TrailscopeCodec {
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
            from: Some(1),
            to: None,
            accounts: ["111122223333".to_string()].into(),
            regions: Default::default(),
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
        assert_eq!((back.root.as_str(), back.from), ("tmp/lake", Some(1)));
    }
}
