<?xml version="1.0" encoding="UTF-8"?>
<!--
  Licensing's canonical TransferEligibilityQuery → the police's trf:CheckTransferEligibility.
  The police are asked about the worker only (civil number); who the new
  employer is stays licensing's business. RequestRef is licensing's transfer id,
  so the police can tie the question to the notification that may follow.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:trf="urn:om:rop:transfer:2024"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/rabt:TransferEligibilityQuery">
    <trf:CheckTransferEligibility>
      <trf:RequestRef><xsl:value-of select="normalize-space(rabt:TransferId)"/></trf:RequestRef>
      <trf:CivilNo><xsl:value-of select="normalize-space(rabt:CivilNumber)"/></trf:CivilNo>
    </trf:CheckTransferEligibility>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical TransferEligibilityQuery, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
