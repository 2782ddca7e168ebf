"""The Streamlit pages: widgets and layout only; numbers and figures come from pipelines/."""
